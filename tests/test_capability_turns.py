"""The capability map counts a chat's turns: each turn is audited as one routing decision.

Seen on a fresh install: after six chat turns the chat card said "0 turns, 8 model calls", because
it counted records of a kind nothing writes. The figures come from a real audit trail here.
"""

from pathlib import Path

from assistant.governance.audit import AuditEvent
from assistant.governance.component import build_governance
from assistant.governance.settings import GovernanceSettings
from assistant.ui.capability_data import capability_figures


def test_each_routing_decision_is_one_turn_of_its_capability(tmp_path: Path) -> None:
    governance = build_governance(GovernanceSettings(), tmp_path)
    try:
        for cited in ((), (), ("doc-1",)):
            governance.audit.record(
                AuditEvent(kind="routing_decision", user_id="u", tier="internal", route="local",
                           document_ids=cited, outcome="ok")
            )  # fmt: skip
            governance.audit.record(
                AuditEvent(kind="model_call", user_id="u", tier="internal", route="local", model="m",
                           document_ids=cited, latency_ms=10.0, outcome="ok")
            )  # fmt: skip
        figures = capability_figures(governance.engine)
    finally:
        governance.close()
    chat, documents = figures["chat"], figures["document Q&A"]
    assert (chat.turns, chat.model_calls, documents.turns, documents.model_calls) == (2, 2, 1, 1)
    assert chat.tiers == {"internal": 2}  # counted on the model calls, not twice
    assert chat.ok_rate == 1.0
