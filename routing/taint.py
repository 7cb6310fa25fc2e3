"""Taint: the one place a turn's decision is raised by what the turn carries besides its message.

A chat that once carried regulated content stays regulated; an answer built on a regulated
passage, attachment or tool result is regulated. `combine(decision, *sources)` takes the
message's decision and every other source of the turn and returns the turn's decision: the
highest tier, the rule that decided it, why (in words the receipt shows) and what tainted it
(names, never values). The message wins a tie, then the sources in the order given, so the
receipt names the most direct cause.

It only ever raises a tier, never lowers one; and when it raises a tier without a policy to ask
(`route_for`), the route is local: when in doubt, stay on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from routing.decision import GateDecision
from routing.tiers import Route, Tier, highest

THIS_CHAT = "this chat"

TaintKind = Literal["conversation", "retrieved-document", "attachment", "tool"]

# Why a source kept the turn at its tier, by kind; "{tier}" is the source's tier.
_WHY: dict[TaintKind, str] = {
    "conversation": "this chat already carried {tier} content, so it stays at that tier",
    "retrieved-document": "a retrieved passage is {tier}, so the answer stays at that tier",
    "attachment": "an attached file is {tier}, so the answer stays at that tier",
    "tool": "a tool result is {tier}, so the answer stays at that tier",
}


@dataclass(frozen=True, slots=True)
class TaintSource:
    """Something a turn carries besides its message, known by its tier (not re-classified here),
    e.g. `TaintSource("tool", Tier.INTERNAL, ("tool “search”",))`.

    `kind` names the rule when it decides (`taint:<kind>:<tier>`); `names` is what the receipt
    lists under "tainted by" (e.g. "this chat", a document's title).
    """

    kind: TaintKind
    tier: Tier
    names: tuple[str, ...] = ()

    def why(self) -> str:
        return _WHY[self.kind].format(tier=self.tier.value)


Source = TaintSource | GateDecision
"""A plain source known by its tier, or another text's gate decision (its reasons, entities and
topics are kept, its reasons labelled with its source name)."""


def combine(
    decision: GateDecision, *sources: Source, route_for: Callable[[Tier], Route] | None = None
) -> GateDecision:
    """The turn's decision: `decision` (the message's) raised to the highest tier of `sources`.

    Call it again with more sources (e.g. tool results) on a combined decision: it composes.
    """
    tier = highest(decision.tier, *(source.tier for source in sources))
    if tier is decision.tier:
        rule, route = decision.rule, decision.route
    else:
        deciding = next(source for source in sources if source.tier is tier)
        rule = _rule_of(deciding)
        route = _route_of(deciding, tier, route_for)
    decisions = [source for source in sources if isinstance(source, GateDecision)]
    return decision.model_copy(
        update={
            "tier": tier,
            "route": route,
            "rule": rule,
            "reasons": _reasons(decision, sources),
            "entities": decision.entities + tuple(e for d in decisions for e in d.entities),
            "topics": decision.topics + tuple(t for d in decisions for t in d.topics),
            "failed_closed": decision.failed_closed or any(d.failed_closed for d in decisions),
            "elapsed_ms": decision.elapsed_ms + sum(d.elapsed_ms for d in decisions),
            "tainted_by": _tainted_by(decision, sources),
        }
    )


def _rule_of(source: Source) -> str:
    if isinstance(source, GateDecision):
        return source.rule
    return f"taint:{source.kind}:{source.tier.value}"


def _route_of(source: Source, tier: Tier, route_for: Callable[[Tier], Route] | None) -> Route:
    if route_for is not None:
        return route_for(tier)
    if isinstance(source, GateDecision):
        return source.route
    return Route.LOCAL  # no policy to ask: fail closed


def _reasons(decision: GateDecision, sources: tuple[Source, ...]) -> tuple[str, ...]:
    reasons = list(decision.reasons)
    for source in sources:
        if isinstance(source, GateDecision):
            label = "" if source.source == "message" else f"[{source.source}] "
            reasons += [f"{label}{reason}" for reason in source.reasons]
        elif source.tier.rank > decision.tier.rank:
            reasons.append(source.why())
    return tuple(dict.fromkeys(reasons))


def _tainted_by(decision: GateDecision, sources: tuple[Source, ...]) -> tuple[str, ...]:
    """Oldest cause first: what the chat already carried, then this message, then the rest."""
    own = decision.tainted_by or ((THIS_CHAT,) if decision.tier is Tier.REGULATED else ())
    plain = [source for source in sources if isinstance(source, TaintSource)]
    carried = [name for source in plain if source.kind == "conversation" for name in source.names]
    rest = [name for source in plain if source.kind != "conversation" for name in source.names]
    return tuple(dict.fromkeys([*carried, *own, *rest]))
