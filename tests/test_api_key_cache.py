"""The API's memory of verified keys: revocation within the TTL, expiry at once, failures never kept.

Real keys in a real governance database, and an injected clock, so each bound is checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from assistant.api.key_cache import VerifiedKeys
from assistant.governance.api_keys import ApiKeys, AuthorizedKey
from assistant.governance.component import Governance, build_governance
from assistant.governance.settings import GovernanceSettings
from assistant.governance.tables import utcnow


@pytest.fixture
def governance(tmp_path: Path) -> Iterator[Governance]:
    governance = build_governance(GovernanceSettings(), tmp_path)
    governance.accounts.add_user(username="svc", password=None, groups=["finance"])
    yield governance
    governance.close()


class Counted:
    """`ApiKeys.authorize`, counting the database reads."""

    def __init__(self, keys: ApiKeys) -> None:
        self.keys = keys
        self.reads = 0

    def __call__(self, token: str) -> AuthorizedKey | None:
        self.reads += 1
        return self.keys.authorize(token)


def _cache(governance: Governance, now: list[float]) -> tuple[VerifiedKeys, Counted]:
    counted = Counted(governance.api_keys)
    return VerifiedKeys(counted, ttl_s=5.0, clock=lambda: now[0]), counted


def test_a_verified_key_is_read_once_within_the_ttl(governance: Governance) -> None:
    now = [100.0]
    cache, counted = _cache(governance, now)
    _, secret = governance.api_keys.create(owner="svc", name="a", created_by="admin")
    first = cache.authorize(secret)
    now[0] = 104.9
    assert cache.remembered(secret) == first and cache.authorize(secret) == first
    assert first is not None and first.principal.groups == frozenset({"finance"})
    assert counted.reads == 1


def test_a_revoked_key_is_refused_once_its_entry_is_ttl_old(governance: Governance) -> None:
    now = [100.0]
    cache, counted = _cache(governance, now)
    public, secret = governance.api_keys.create(owner="svc", name="a", created_by="admin")
    assert cache.authorize(secret) is not None
    governance.api_keys.revoke(prefix=public.prefix)  # e.g. by the CLI, in another process
    now[0] = 104.9
    assert cache.authorize(secret) is not None  # the stated bound: up to 5 s more
    now[0] = 105.0
    assert cache.remembered(secret) is None
    assert cache.authorize(secret) is None
    assert counted.reads == 2


def test_an_expiry_that_passes_while_remembered_is_honoured_at_once(governance: Governance) -> None:
    now = [100.0]
    cache, _ = _cache(governance, now)
    _, secret = governance.api_keys.create(owner="svc", name="a", created_by="admin")
    key = cache.authorize(secret)
    assert key is not None
    expired = key.key.model_copy(update={"expires_at": utcnow() - timedelta(seconds=1)})
    # The same key, its expiry now in the past (as if the clock had run past it).
    cache = VerifiedKeys(lambda _token: AuthorizedKey(expired, key.principal), clock=lambda: now[0])
    assert cache.authorize(secret) is not None  # the database said yes a moment ago...
    assert cache.remembered(secret) is None  # ...but what is remembered is checked again


def test_refusals_are_never_remembered(governance: Governance) -> None:
    now = [100.0]
    cache, counted = _cache(governance, now)
    assert cache.authorize("cfd_aaaaaaaaaa_" + "x" * 43) is None
    assert cache.authorize("cfd_aaaaaaaaaa_" + "x" * 43) is None
    assert counted.reads == 2
    _, secret = governance.api_keys.create(owner="svc", name="new", created_by="admin")
    assert cache.authorize(secret) is not None  # a key created a moment ago works at once


def test_the_memory_is_bounded(governance: Governance) -> None:
    now = [100.0]
    counted = Counted(governance.api_keys)
    cache = VerifiedKeys(counted, clock=lambda: now[0], max_entries=2)
    secrets = [governance.api_keys.create(owner="svc", name=f"k{i}", created_by="admin")[1] for i in range(3)]
    for secret in secrets:
        cache.authorize(secret)
    assert cache.remembered(secrets[0]) is None  # the oldest went
    assert cache.remembered(secrets[1]) is not None and cache.remembered(secrets[2]) is not None
