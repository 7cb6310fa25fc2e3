"""API keys for the company's other apps: created, listed, revoked, expired; stored hashed.

A key reads `cfd_<prefix>_<secret>`. The prefix is public (it names the key in the audit trail,
the metrics and the console); the secret is 32 random bytes, shown once at creation and stored
only as its sha256 (a random 256-bit secret needs no slow hash: there is nothing to guess), and
compared in constant time. A key acts as its owner account, a person or a service account, with
that account's groups and budget; a disabled owner disables its keys.

Nothing here logs or returns a secret after `create`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine
from sqlmodel import Session, select

from assistant.governance.accounts import Accounts, normalize_username
from assistant.governance.tables import ApiKeyRow, as_utc, utcnow
from assistant.identity import Principal

Scope = Literal["chat", "knowledge"]
SCOPES: tuple[Scope, ...] = ("chat", "knowledge")
LAST_USED_RESOLUTION = timedelta(minutes=1)
KEY_PATTERN = re.compile(r"^cfd_(?P<prefix>[a-z0-9]{10})_(?P<secret>[A-Za-z0-9_-]{43})$")


class ApiKeyError(Exception):
    """A key operation that cannot be done; the message is one readable line."""


class ApiKeyPublic(BaseModel):
    """What may be shown about a key: never its secret or hash."""

    model_config = ConfigDict(frozen=True)

    prefix: str
    name: str
    owner: str
    scopes: tuple[str, ...]
    rate_per_minute: int
    daily_tokens: int | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and as_utc(self.expires_at) <= utcnow():
            return "expired"
        return "active"


@dataclass(frozen=True)
class AuthorizedKey:
    """A verified key and the principal it acts as."""

    key: ApiKeyPublic
    principal: Principal

    @property
    def budget_id(self) -> str:
        """The id the key's own daily budget is kept under (beside its owner's)."""
        return f"apikey:{self.key.prefix}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _public(row: ApiKeyRow) -> ApiKeyPublic:
    return ApiKeyPublic(
        prefix=row.prefix, name=row.name, owner=row.owner, scopes=tuple(row.scopes or ()),
        rate_per_minute=row.rate_per_minute, daily_tokens=row.daily_tokens, created_by=row.created_by,
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at) if row.expires_at else None,
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
    )  # fmt: skip


class ApiKeys:
    """CRUD and verification of API keys over the governance database."""

    def __init__(self, engine: Engine, accounts: Accounts) -> None:
        self._engine = engine
        self._accounts = accounts

    def create(
        self,
        *,
        owner: str,
        name: str,
        created_by: str,
        scopes: tuple[str, ...] = ("chat",),
        expires_in_days: int | None = None,
        rate_per_minute: int = 60,
        daily_tokens: int | None = None,
    ) -> tuple[ApiKeyPublic, str]:
        """A new key and its full secret text (shown once; only its hash is kept)."""
        owner = normalize_username(owner)
        if self._accounts.get_user(username=owner) is None:
            raise ApiKeyError(f"no account named {owner!r}: create it first (confidante users add)")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ApiKeyError(
                f"scopes must be among {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})"
            )
        if rate_per_minute < 1:
            raise ApiKeyError("the rate limit must be at least 1 request per minute")
        prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
        secret = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        row = ApiKeyRow(
            prefix=prefix, name=name.strip()[:150] or prefix, owner=owner, secret_sha256=_digest(secret),
            scopes=list(dict.fromkeys(scopes)), rate_per_minute=rate_per_minute, daily_tokens=daily_tokens,
            created_by=created_by, expires_at=expires,
        )  # fmt: skip
        with Session(self._engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
            return _public(row), f"cfd_{prefix}_{secret}"

    def list(self, *, owner: str | None = None) -> list[ApiKeyPublic]:
        with Session(self._engine) as session:
            query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)  # type: ignore[arg-type]
            if owner is not None:
                query = query.where(ApiKeyRow.owner == normalize_username(owner))
            return [_public(row) for row in session.exec(query)]

    def revoke(self, *, prefix: str) -> ApiKeyPublic:
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, prefix.removeprefix("cfd_").split("_")[0])
            if row is None:
                raise ApiKeyError(f"no API key {prefix!r}")
            row.revoked_at = row.revoked_at or utcnow()
            session.add(row)
            session.commit()
            session.refresh(row)
            return _public(row)

    def set_expiry(self, *, prefix: str, expires_at: datetime | None) -> ApiKeyPublic:
        """Set (or with None clear) when a key stops working. A revoked key stays revoked, and a
        past moment is refused: revoking is how a key is stopped now."""
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, prefix.removeprefix("cfd_").split("_")[0])
            if row is None:
                raise ApiKeyError(f"no API key {prefix!r}")
            if row.revoked_at is not None:
                raise ApiKeyError(f"the key {row.prefix} is revoked; create a new key instead")
            if expires_at is not None and as_utc(expires_at) <= utcnow():
                raise ApiKeyError("the expiry must be in the future (revoke the key to stop it now)")
            row.expires_at = as_utc(expires_at) if expires_at is not None else None
            session.add(row)
            session.commit()
            session.refresh(row)
            return _public(row)

    def authorize(self, token: str) -> AuthorizedKey | None:
        """The key and its principal, or None for anything not a live key of an enabled account."""
        match = KEY_PATTERN.match(token.strip())
        if match is None:
            return None
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, match["prefix"])
            # Compare even when the row is missing, so timing says nothing about which prefixes exist.
            expected = row.secret_sha256 if row is not None else "0" * 64
            if not hmac.compare_digest(expected, _digest(match["secret"])) or row is None:
                return None
            key = _public(row)
            if key.status != "active":
                return None
            principal = self._accounts.principal(username=row.owner)
            if principal is None:
                return None
            # "Last used" to the minute: a write (and a commit) on every request would put a disk
            # sync in front of every answer's first byte for a figure nobody reads to the second.
            now = utcnow()
            if row.last_used_at is None or now - as_utc(row.last_used_at) >= LAST_USED_RESOLUTION:
                row.last_used_at = now
                session.add(row)
                session.commit()
        return AuthorizedKey(key, principal)
