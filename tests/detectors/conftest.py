"""The detector families' tests share one gate with its deterministic layers only.

No spaCy and no token classifier: a rule that stops matching must fail its test, not hide behind
a model that happens to catch the same value.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from routing.gate import SensitivityGate
from routing.policy import load_policy
from routing.tiers import Tier


@pytest.fixture(scope="package")
def gate() -> Iterator[SensitivityGate]:
    gate = SensitivityGate(load_policy(), None, timeout_s=30)
    yield gate
    gate.close()


def found(gate: SensitivityGate, text: str) -> tuple[Tier, set[str]]:
    """The tier and the entity types found; a failed-closed decision fails the test."""
    decision = gate.classify(text)
    assert not decision.failed_closed, decision.reasons
    return decision.tier, set(decision.entity_counts())
