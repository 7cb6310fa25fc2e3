"""Taint: the one place a turn's tier is combined from its message, its history and its passages.

A chat that once carried regulated content stays regulated; an answer built on a regulated
passage is regulated. `combine_taint` says which tier a turn has, which rule decided it, why (in
words the receipt shows) and what tainted it (names, never values). The message's own decision
wins a tie, then the history, then the passages, so the receipt names the most direct cause.

The combined tier is never lower than any part's tier: this function only ever raises a tier.
(`routing.gate.combine` merges the decisions of the parts of one text; this merges a turn's
sources.)
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.tiers import Tier, highest


@dataclass(frozen=True, slots=True)
class TaintPart:
    """One source of a turn's sensitivity: its tier, the rule and reasons, and what to name."""

    tier: Tier
    rule: str = ""
    reasons: tuple[str, ...] = ()
    # What the receipt lists under "tainted by" for this part (e.g. "this chat", a document).
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Taint:
    tier: Tier
    rule: str
    reasons: tuple[str, ...]
    tainted_by: tuple[str, ...]


def combine_taint(message: TaintPart, *, history: TaintPart, passages: TaintPart) -> Taint:
    """The turn's tier and why: the highest of the three parts, with the deciding rule."""
    tier = highest(history.tier, message.tier, passages.tier)
    if tier == message.tier:
        rule = message.rule
    elif tier == history.tier:
        rule = f"taint:conversation:{history.tier.value}"
    else:
        rule = f"taint:retrieved-document:{passages.tier.value}"
    reasons = list(message.reasons)
    if history.tier.rank > message.tier.rank:
        reasons.append(f"this chat already carried {history.tier.value} content, so it stays at that tier")
    if passages.tier.rank > message.tier.rank:
        reasons.append(f"a retrieved passage is {passages.tier.value}, so the answer stays at that tier")
    # Oldest cause first: what the chat already carried, then this message, then the passages.
    named = [*history.names, *message.names, *passages.names]
    return Taint(tier=tier, rule=rule, reasons=tuple(reasons), tainted_by=tuple(dict.fromkeys(named)))


def message_part(tier: Tier, rule: str, reasons: tuple[str, ...]) -> TaintPart:
    """The message's own part: a regulated message taints "this chat" from now on."""
    return TaintPart(
        tier=tier, rule=rule, reasons=reasons, names=("this chat",) if tier == Tier.REGULATED else ()
    )
