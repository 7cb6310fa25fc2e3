"""Taint: `routing.taint.combine` raises a turn's decision by what it carries, never lowers it."""

from __future__ import annotations

from routing.decision import EntityFinding, GateDecision
from routing.taint import TaintSource, combine
from routing.tiers import Route, Tier

ROUTES = {Tier.PUBLIC: Route.HOSTED, Tier.INTERNAL: Route.HOSTED_PSEUDONYMIZED, Tier.REGULATED: Route.LOCAL}


def _decision(
    tier: Tier, rule: str, reasons: tuple[str, ...] = (), *, source: str = "message"
) -> GateDecision:
    entities = (
        ()
        if tier is Tier.PUBLIC
        else (EntityFinding(type="X", start=0, end=1, score=1.0, recognizer="t", tier=tier),)
    )
    return GateDecision(
        tier=tier, route=ROUTES[tier], rule=rule, reasons=reasons, entities=entities,
        policy_version="p1", source=source,
    )  # fmt: skip


def test_taint_never_lowers_a_tier_and_names_the_deciding_source() -> None:
    turn = combine(
        _decision(Tier.PUBLIC, "default", ("nothing sensitive",)),
        TaintSource("conversation", Tier.REGULATED, ("this chat",)),
        TaintSource("retrieved-document", Tier.INTERNAL),
        route_for=ROUTES.__getitem__,
    )
    assert turn.tier is Tier.REGULATED and turn.rule == "taint:conversation:regulated"
    assert turn.route is Route.LOCAL and turn.policy_version == "p1"
    assert turn.reasons[0] == "nothing sensitive" and len(turn.reasons) == 3
    assert turn.tainted_by == ("this chat",)


def test_the_message_wins_a_tie_and_a_regulated_message_taints_the_chat() -> None:
    turn = combine(
        _decision(Tier.REGULATED, "rule:ssn"),
        TaintSource("conversation", Tier.PUBLIC, ("document “Old”",)),
        TaintSource("retrieved-document", Tier.REGULATED, ("document “Pay”",)),
        route_for=ROUTES.__getitem__,
    )
    assert turn.tier is Tier.REGULATED and turn.rule == "rule:ssn" and turn.reasons == ()
    assert turn.tainted_by == ("document “Old”", "this chat", "document “Pay”")
    assert turn.entity_counts() == {"X": 1}


def test_a_raised_tier_without_a_policy_goes_local() -> None:
    turn = combine(_decision(Tier.PUBLIC, "default"), TaintSource("tool", Tier.INTERNAL, ("tool “search”",)))
    assert turn.tier is Tier.INTERNAL and turn.route is Route.LOCAL
    assert turn.rule == "taint:tool:internal" and turn.tainted_by == ("tool “search”",)
    assert turn.reasons == ("a tool result is internal, so the answer stays at that tier",)


def test_combining_again_with_a_tool_result_keeps_what_the_turn_already_carried() -> None:
    turn = combine(
        _decision(Tier.INTERNAL, "entity:PERSON"),
        TaintSource("conversation", Tier.PUBLIC),
        TaintSource("retrieved-document", Tier.REGULATED, ("document “Pay”",)),
        route_for=ROUTES.__getitem__,
    )
    again = combine(turn, TaintSource("tool", Tier.REGULATED, ("tool “hr”",)), route_for=ROUTES.__getitem__)
    assert again.tier is Tier.REGULATED and again.rule == "taint:retrieved-document:regulated"
    assert again.tainted_by == ("document “Pay”", "tool “hr”")
    assert again.reasons == turn.reasons


def test_another_texts_decision_keeps_its_reasons_labelled_and_its_entities() -> None:
    attached = _decision(Tier.REGULATED, "entity:US_SSN", ("US_SSN detected",), source="file:a.txt")
    turn = combine(_decision(Tier.PUBLIC, "default", ("nothing found",)), attached)
    assert turn.tier is Tier.REGULATED and turn.rule == "entity:US_SSN" and turn.route is Route.LOCAL
    assert turn.reasons == ("nothing found", "[file:a.txt] US_SSN detected")
    assert turn.entity_counts() == {"X": 1} and turn.source == "message"
    failed = attached.model_copy(update={"failed_closed": True, "tier": Tier.PUBLIC})
    assert combine(_decision(Tier.PUBLIC, "default"), failed).failed_closed
