"""The capability map's tools card says what it counts: turns that used tools (one `tool_loop`
record each) and tool calls (`tool_call` records), not both added up as "turns".

Seen in the session-6 walkthrough: one turn with three tool calls showed as "4 turns, 0 model
calls". The records here are written by the tool loop's own audit observer into a real trail."""

from pathlib import Path

from assistant.governance.component import build_governance
from assistant.governance.settings import GovernanceSettings
from assistant.tools.observe import call_event, loop_event
from assistant.tools.records import LoopReport, ToolCallRecord
from assistant.ui.capability_console import capability_card
from assistant.ui.capability_data import capability_figures
from knowledge.access import Principal
from routing.tiers import Tier

USER = Principal(user_id="u", groups=frozenset())


def record(name: str, outcome: str, tier: Tier) -> ToolCallRecord:
    return ToolCallRecord(
        call_id="c", name=name, arguments_sha256="0" * 64, result_sha256="1" * 64,
        outcome=outcome, latency_ms=5.0, destination="local", result_tier=tier,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_tools_card_counts_turns_that_used_tools_and_tool_calls_apart(tmp_path: Path) -> None:
    governance = build_governance(GovernanceSettings(), tmp_path)
    try:
        first = (
            record("search_documents", "ok", Tier.INTERNAL),
            record("read_document_section", "ok", Tier.INTERNAL),
            record("calculator", "not_found", Tier.PUBLIC),
        )
        second = (record("calculator", "ok", Tier.PUBLIC),)
        loops = ((first, "answered", Tier.INTERNAL), (second, "max_steps", Tier.PUBLIC))
        for calls, termination, tier in loops:
            for call in calls:
                governance.audit.record(call_event(call, principal=USER, thread_id="t"))
            report = LoopReport(termination, len(calls), calls, tokens=10, result_tier=tier)  # type: ignore[arg-type]
            governance.audit.record(loop_event(report, principal=USER, thread_id="t"))
        tools = capability_figures(governance.engine)["tools"]
    finally:
        governance.close()
    assert (tools.turns, tools.tool_calls, tools.model_calls) == (2, 4, 0)
    assert tools.use == "2 turns that used tools, 4 tool calls"
    assert tools.tiers == {"internal": 2, "public": 2}  # per call; the loops' tiers are not added
    assert tools.not_ok == 2 and tools.judged == 6  # a call not found, a loop stopped by a bound
    card = capability_card(tools, 14, "<ul></ul>", None)
    assert "2 turns that used tools, 4 tool calls; tool calls by tier:" in card
    assert "model calls" not in card


def test_other_cards_still_count_turns_and_model_calls() -> None:
    from assistant.ui.capability_data import CapabilityFigures

    chat = CapabilityFigures("chat", turns=1, model_calls=2)
    assert chat.use == "1 turn, 2 model calls" and chat.tiers_label == "by tier"
