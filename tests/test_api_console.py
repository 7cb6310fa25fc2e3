"""The API's admin side: key pages (list, create once, revoke with CSRF), usage by key from the
audit trail, the refusal of caller-defined tools, and the key's throttled "last used" write.

The pages run under uvicorn on loopback like the dashboard's tests; sessions are Chainlit's own
signed tokens sent as its cookie.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from assistant.api.schema import unsupported_tools
from assistant.api.usage import usage_by_key
from assistant.governance.audit import AuditEvent
from assistant.governance.component import Governance, build_governance
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from tests.support.console_server import console_server, session_cookie

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"messages": USER, "functions": [{"name": "f"}]}, "functions"),
        ({"messages": USER, "tool_choice": "required"}, "tool_choice"),
        ({"messages": USER, "tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        ({"messages": [{"role": "tool", "content": "42", "tool_call_id": "c"}, *USER]}, "messages.0"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}, *USER]}, "messages.0"),
    ],
)
def test_caller_defined_tools_are_named_for_refusal(payload: dict[str, object], field: str) -> None:
    assert unsupported_tools(payload) == field


@pytest.mark.parametrize(
    "payload",
    [{"messages": USER}, {"messages": USER, "tools": []}, {"messages": USER, "tool_choice": "none"}],
)
def test_requests_that_ask_for_no_tools_pass(payload: dict[str, object]) -> None:
    assert unsupported_tools(payload) is None


@pytest.fixture(scope="module")
def governance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governance]:
    gov = build_governance(GovernanceSettings(passwords=FAST), tmp_path_factory.mktemp("keys"))
    gov.accounts.add_user(username="admin", password="admin password", role="admin")
    gov.accounts.add_user(username="alice", password="alice password")
    gov.accounts.add_user(username="svc", password=None, groups=["finance"])
    yield gov
    gov.close()


def test_usage_by_key_counts_requests_refusals_tokens_and_cost(governance: Governance) -> None:
    record = governance.audit.record
    for status in (200, 200, 429):
        record(AuditEvent(kind="api_request", user_id="svc", detail=f"key=aaaaaaaaaa status={status} x"))
    record(AuditEvent(kind="api_request", user_id="svc", detail="key=bbbbbbbbbb status=200 x"))
    record(
        AuditEvent(
            kind="model_call", user_id="svc", thread_id="api-aaaaaaaaaa-0123", prompt_tokens=30,
            completion_tokens=12, cost_usd=0.002,
        )
    )  # fmt: skip
    record(AuditEvent(kind="model_call", user_id="svc", thread_id="chat-thread", prompt_tokens=99))
    usage = usage_by_key(governance.engine)
    a, b = usage["aaaaaaaaaa"], usage["bbbbbbbbbb"]
    assert (a.requests, a.refusals, a.tokens, round(a.cost_usd, 4)) == (3, 1, 42, 0.002)
    assert (b.requests, b.refusals, b.tokens) == (1, 0, 0)
    assert set(usage) == {"aaaaaaaaaa", "bbbbbbbbbb"}  # the chat turn's 99 tokens are nobody's key


def test_last_used_is_written_at_most_once_a_minute(governance: Governance) -> None:
    public, secret = governance.api_keys.create(owner="svc", name="throttle", created_by="admin")
    assert governance.api_keys.authorize(secret) is not None
    first = next(k for k in governance.api_keys.list() if k.prefix == public.prefix).last_used_at
    time.sleep(0.01)
    assert governance.api_keys.authorize(secret) is not None
    again = next(k for k in governance.api_keys.list() if k.prefix == public.prefix).last_used_at
    assert first is not None and again == first


@pytest.fixture(scope="module")
def server(governance: Governance) -> Iterator[str]:
    with console_server(governance, "api-keys") as url:
        yield url


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the keys page carries no CSRF token"
    return found.group(1)


def test_non_admins_get_the_console_refusal_pages(server: str) -> None:
    anonymous = httpx.get(f"{server}/admin/api-keys")
    assert anonymous.status_code == 401 and 'href="/login"' in anonymous.text
    user = httpx.get(f"{server}/admin/api-keys", cookies=session_cookie("alice"))
    assert user.status_code == 403 and "Administrators only" in user.text
    posted = httpx.post(
        f"{server}/admin/api-keys", data={"name": "x", "owner": "svc"}, cookies=session_cookie("alice")
    )
    assert posted.status_code == 403


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(server: str, governance: Governance) -> None:
    admin = session_cookie("admin")
    page = httpx.get(f"{server}/admin/api-keys", cookies=admin)
    assert page.status_code == 200 and "<script" not in page.text
    token = _csrf(page.text)
    form = {"name": "reports app", "owner": "svc", "scopes": "chat", "rate": "30", "csrf_token": token}
    refused = httpx.post(f"{server}/admin/api-keys", data={**form, "csrf_token": token + "x"}, cookies=admin)
    assert refused.status_code == 403 and not any(k.name == "reports app" for k in governance.api_keys.list())
    created = httpx.post(f"{server}/admin/api-keys", data=form, cookies=admin)
    secret = re.search(r"cfd_[a-z0-9]{10}_[A-Za-z0-9_-]{43}", created.text)
    assert created.status_code == 200 and secret is not None
    authorized = governance.api_keys.authorize(secret.group(0))
    assert authorized is not None and authorized.key.rate_per_minute == 30
    listing = httpx.get(f"{server}/admin/api-keys", cookies=admin).text
    assert "reports app" in listing and "finance" in listing and secret.group(0) not in listing
    prefix = authorized.key.prefix
    no_token = httpx.post(f"{server}/admin/api-keys/{prefix}/revoke", cookies=admin)
    assert no_token.status_code == 403 and governance.api_keys.authorize(secret.group(0)) is not None
    revoked = httpx.post(
        f"{server}/admin/api-keys/{prefix}/revoke",
        data={"csrf_token": token},
        cookies=admin,
        follow_redirects=False,
    )
    assert revoked.status_code == 303 and governance.api_keys.authorize(secret.group(0)) is None


def test_the_dashboard_splits_api_usage_by_key(server: str, governance: Governance) -> None:
    governance.audit.record(
        AuditEvent(kind="api_request", user_id="svc", detail="key=cccccccccc status=403 x")
    )
    html = httpx.get(f"{server}/admin/dashboard", cookies=session_cookie("admin")).text
    section = html[html.index("API usage by key") :]
    assert re.search(r"<td>cccccccccc</td><td>[^<]*</td><td>1</td><td>1</td>", section)


def _expiry_records(governance: Governance, prefix: str) -> list[str]:
    return [
        r.detail or ""
        for r in governance.audit.records()
        if r.kind == "api_key" and (r.detail or "").startswith(f"key={prefix} expiry=")
    ]


def test_an_admin_sets_and_clears_a_keys_expiry_with_csrf_and_audit(
    server: str, governance: Governance
) -> None:
    admin = session_cookie("admin")
    key, secret = governance.api_keys.create(owner="svc", name="expiring app", created_by="admin")
    token = _csrf(httpx.get(f"{server}/admin/api-keys", cookies=admin).text)
    url = f"{server}/admin/api-keys/{key.prefix}/expiry"
    form = {"action": "set", "expires_on": "2999-01-31", "csrf_token": token}
    forged = httpx.post(url, data={**form, "csrf_token": token + "x"}, cookies=admin)
    assert forged.status_code == 403 and _expiry_records(governance, key.prefix) == []
    by_user = httpx.post(url, data=form, cookies=session_cookie("alice"))
    assert by_user.status_code == 403 and _expiry_records(governance, key.prefix) == []
    assert httpx.post(url, data=form, cookies=admin).status_code == 303
    listed = next(k for k in governance.api_keys.list() if k.prefix == key.prefix)
    assert listed.expires_at is not None and f"{listed.expires_at:%Y-%m-%d %H:%M}" == "2999-01-31 00:00"
    assert "2999-01-31 00:00" in httpx.get(f"{server}/admin/api-keys", cookies=admin).text
    cleared = httpx.post(url, data={"action": "clear", "csrf_token": token}, cookies=admin)
    assert cleared.status_code == 303
    assert next(k for k in governance.api_keys.list() if k.prefix == key.prefix).expires_at is None
    assert _expiry_records(governance, key.prefix) == [
        f"key={key.prefix} expiry=2999-01-31T00:00Z",
        f"key={key.prefix} expiry=never",
    ]
    assert not any(secret in (r.detail or "") for r in governance.audit.records())


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"action": "set", "expires_on": "2001-01-01"}, "must be in the future"),
        ({"action": "set", "expires_on": ""}, "choose a date"),
        ({"action": "set", "expires_on": "31/01/2999"}, "not a date"),
    ],
)
def test_an_expiry_in_the_past_or_not_a_date_is_refused_and_changes_nothing(
    server: str, governance: Governance, form: dict[str, str], reason: str
) -> None:
    admin = session_cookie("admin")
    key, _ = governance.api_keys.create(owner="svc", name="steady app", created_by="admin")
    token = _csrf(httpx.get(f"{server}/admin/api-keys", cookies=admin).text)
    refused = httpx.post(
        f"{server}/admin/api-keys/{key.prefix}/expiry", data={**form, "csrf_token": token}, cookies=admin
    )
    assert refused.status_code == 400 and reason in refused.text
    assert next(k for k in governance.api_keys.list() if k.prefix == key.prefix).expires_at is None
    assert _expiry_records(governance, key.prefix) == []


def test_a_revoked_keys_expiry_cannot_be_changed(server: str, governance: Governance) -> None:
    admin = session_cookie("admin")
    key, secret = governance.api_keys.create(owner="svc", name="gone app", created_by="admin")
    governance.api_keys.revoke(prefix=key.prefix)
    page = httpx.get(f"{server}/admin/api-keys", cookies=admin).text
    assert f"/admin/api-keys/{key.prefix}/expiry" not in page  # no form offered for a revoked key
    refused = httpx.post(
        f"{server}/admin/api-keys/{key.prefix}/expiry",
        data={"action": "clear", "csrf_token": _csrf(page)},
        cookies=admin,
    )
    assert refused.status_code == 400 and "revoked" in refused.text
    assert governance.api_keys.authorize(secret) is None
