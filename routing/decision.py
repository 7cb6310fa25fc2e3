"""The privacy decision: one typed, immutable record of what a text (or a whole turn) is and where
it may go.

The gate makes one per text (`routing.gate`), `routing.taint.combine` raises it with what the turn
carries besides its message (the chat so far, attachments, retrieved passages, tool results), and
the turn's receipt is a view of it (`assistant.turns.Receipt.of`). The UI shows it, the audit log
stores it and tests assert on it, so it must never carry a detected value: entity types, spans,
scores and names of sources only.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict

from routing.contextual import ContextualFinding
from routing.tiers import Route, Tier
from routing.topics import TopicFinding


class EntityFinding(BaseModel):
    """An entity in a decision: where it is and what found it, never its value."""

    model_config = ConfigDict(frozen=True)

    type: str
    start: int
    end: int
    score: float
    recognizer: str
    tier: Tier
    source: str = "message"


class GateDecision(BaseModel):
    """Tier, route, the deciding rule and why; for a turn, also what kept it at its tier."""

    model_config = ConfigDict(frozen=True)

    tier: Tier
    route: Route
    rule: str
    reasons: tuple[str, ...]
    entities: tuple[EntityFinding, ...] = ()
    topics: tuple[TopicFinding, ...] = ()
    contextual: ContextualFinding | None = None
    policy_version: str
    source: str = "message"
    failed_closed: bool = False
    elapsed_ms: float = 0.0
    # What the receipt lists under "kept at this tier because of" (names, never values);
    # set by `routing.taint.combine`.
    tainted_by: tuple[str, ...] = ()

    def entity_counts(self) -> dict[str, int]:
        return dict(Counter(entity.type for entity in self.entities))
