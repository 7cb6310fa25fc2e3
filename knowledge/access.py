"""Who may see which chunk, expressed once and applied inside both retrievers' queries.

A chunk carries ACL markers in its metadata: `acl_public`, `acl_owner`, and one boolean key per
group. The dense side turns a principal into a Chroma `where` filter; the lexical side turns the
same principal into a boolean mask applied to BM25 scores *before* top-k. Results are never
filtered in Python after a truncated top-k, so a user can never learn that hidden documents crowded
out theirs. The dense side may over-fetch an unfiltered top-m and apply the same rule to all m
(`metadata_allows`, or the lexical index's ACL rows built from the same metadata) before choosing
its top n, but only when that gives the filtered answer: at least n allowed hits among the m, or m
covering the whole collection; otherwise it runs the filtered query (`knowledge.dense_search`).
Either way the user gets the n nearest chunks they may read, whatever the hidden documents are
(up to HNSW's approximation); only the time taken differs (a fallback is slower).
A principal with no groups sees public documents and their own uploads; admins get no bypass
unless `admins_see_everything` is set.

`Principal` (who is asking) lives here, the lowest package that decides on it; the app builds it
from the signed-in account and passes it down. It carries no secrets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["user", "admin"]


class Principal(BaseModel):
    """Who is asking: the identity every access decision is made from."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    groups: frozenset[str] = frozenset()
    role: Role = "user"
    display_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The identity of the command line and of tests that do not sign in.
LOCAL_OPERATOR = Principal(user_id="local", role="admin", display_name="Local operator")

PUBLIC_KEY = "acl_public"
OWNER_KEY = "acl_owner"


def group_key(group: str) -> str:
    """A metadata key per group; hashed so any group name is a safe key."""
    return "acl_g_" + hashlib.sha256(group.encode("utf-8")).hexdigest()[:16]


def acl_metadata(*, owner: str, groups: Iterable[str], public: bool) -> dict[str, str | bool]:
    metadata: dict[str, str | bool] = {PUBLIC_KEY: public, OWNER_KEY: owner}
    for group in sorted(set(groups)):
        metadata[group_key(group)] = True
    return metadata


def acl_tokens(*, owner: str, groups: Iterable[str], public: bool) -> list[str]:
    """The same ACL as opaque tokens, for the lexical index's mask."""
    tokens = [f"owner:{owner}"] + [f"group:{g}" for g in sorted(set(groups))]
    return ["public", *tokens] if public else tokens


def principal_tokens(principal: Principal) -> set[str]:
    return {"public", f"owner:{principal.user_id}"} | {f"group:{g}" for g in principal.groups}


def sees_everything(principal: Principal, *, admins_see_everything: bool) -> bool:
    return principal.is_admin and admins_see_everything


def chroma_where(principal: Principal, *, admins_see_everything: bool = False) -> dict[str, Any] | None:
    """The Chroma `where` filter for what `principal` may read (None only for an allowed bypass)."""
    if sees_everything(principal, admins_see_everything=admins_see_everything):
        return None
    clauses: list[dict[str, Any]] = [{PUBLIC_KEY: {"$eq": True}}, {OWNER_KEY: {"$eq": principal.user_id}}]
    clauses += [{group_key(group): {"$eq": True}} for group in sorted(principal.groups)]
    return {"$or": clauses}


def may_read(
    principal: Principal, *, owner: str, groups: Iterable[str], public: bool, admins_see_everything: bool
) -> bool:
    """The same rule for a whole document (listing, deleting, opening a source)."""
    if sees_everything(principal, admins_see_everything=admins_see_everything):
        return True
    return public or owner == principal.user_id or bool(set(groups) & set(principal.groups))


def metadata_allows(
    principal: Principal, metadata: Mapping[str, Any], *, admins_see_everything: bool = False
) -> bool:
    """`chroma_where` as a predicate on one chunk's metadata (for filtering an over-fetched list).

    Fails closed: a missing or non-boolean marker allows nothing."""
    if sees_everything(principal, admins_see_everything=admins_see_everything):
        return True
    if metadata.get(PUBLIC_KEY) is True or metadata.get(OWNER_KEY) == principal.user_id:
        return True
    return any(metadata.get(group_key(group)) is True for group in principal.groups)
