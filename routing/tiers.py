"""Sensitivity tiers and routes: the vocabulary every privacy decision is written in.

Tiers are ordered; a turn's tier is the highest of everything it touches (taint). Nothing here
decides anything: `routing.gate` and `routing.policy` do.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    REGULATED = "regulated"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Tier.PUBLIC: 0, Tier.INTERNAL: 1, Tier.REGULATED: 2}


def highest(*tiers: Tier | str | None) -> Tier:
    """The most sensitive of the given tiers (unknown strings count as regulated: fail closed)."""
    best = Tier.PUBLIC
    for raw in tiers:
        if raw is None:
            continue
        try:
            tier = Tier(raw)
        except ValueError:
            tier = Tier.REGULATED
        if tier.rank > best.rank:
            best = tier
    return best


class Route(StrEnum):
    """Where a tier may go. `hosted_pseudonymized` means PII is replaced before leaving."""

    LOCAL = "local"
    HOSTED_PSEUDONYMIZED = "hosted_pseudonymized"
    HOSTED = "hosted"
