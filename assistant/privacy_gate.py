"""The real `Privacy` for the pipeline, built on `routing.gate.SensitivityGate`.

It hands the gate's decisions through as they are, and adds one defence in depth: after
pseudonymization the whole outgoing request is classified again, and if anything regulated is
still visible the hosted call is refused (`EgressBlocked`), so a bug in detection or
replacement fails closed instead of leaking. Detected spans are cached per text in memory
only; they never leave the process. Assessing a message keeps the spans of that same analysis,
so pseudonymizing it for a hosted model does not analyse it a second time (the outgoing request
is still classified in full).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from assistant.privacy import Restorer
from assistant.settings import Settings
from models.base import ChatRequest
from routing.decision import GateDecision
from routing.decision_memo import DecisionMemo
from routing.gate import Detection, GateError, PiiSpan, SensitivityGate, build_gate, resolve_overlaps
from routing.policy import Policy
from routing.pseudonymize import pseudonymize_request
from routing.restore import StreamRestorer
from routing.tiers import Route, Tier
from routing.vault import PseudonymVault


class EgressBlocked(Exception):
    """The outgoing request still looked regulated after pseudonymization: it must not leave."""


class _SpanCache:
    """Recently detected spans by (policy version, text): history is not re-analysed every turn."""

    def __init__(self, size: int = 512) -> None:
        self._items: OrderedDict[tuple[str, str], list[PiiSpan]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> list[PiiSpan] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], spans: list[PiiSpan]) -> None:
        with self._lock:
            self._items[key] = spans
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class GatePrivacy:
    def __init__(self, gate: SensitivityGate) -> None:
        self.gate = gate
        self._spans = _SpanCache()
        # The same text is often assessed again (a new thread's title, a resumed chat's history).
        self._decisions = DecisionMemo()

    def assess(self, text: str, *, source: str) -> GateDecision:
        policy = self.gate.policy
        remembered = self._decisions.get(policy, source, text)
        if remembered is not None:
            return remembered
        detection = self.gate.detect(text, source=source)
        decision = detection.decision
        self._decisions.put(policy, source, text, decision)  # never one that failed closed
        if not decision.failed_closed and decision.policy_version == policy.version:
            # The spans `_find_pii` would get from analysing this text again (spans do not depend
            # on the source): a message bound for a hosted model is analysed once, not twice.
            self._spans.put((policy.version, text), _pseudonymizable(detection, policy))
        return decision

    def regulated_values(self, text: str) -> list[str]:
        """The values in `text` that the policy tiers as regulated (the answer's echo guard masks
        them); memory only, never logged."""
        detection = self.gate.detect(text, source="message")
        regulated = {(e.start, e.end) for e in detection.decision.entities if e.tier == Tier.REGULATED}
        return [span.value for span in detection.spans if (span.start, span.end) in regulated]

    def route_for(self, tier: Tier) -> Route:
        return self.gate.policy.route_for(tier)

    def new_vault(self) -> PseudonymVault:
        return PseudonymVault()

    def pseudonymize(self, request: ChatRequest, vault: object) -> tuple[ChatRequest, dict[str, int]]:
        if not isinstance(vault, PseudonymVault):
            raise TypeError("pseudonymization needs a PseudonymVault")
        outgoing, report = pseudonymize_request(request, self._find_pii, vault)
        self._check_egress(outgoing)
        return outgoing, dict(report.replaced)

    def restorer(self, vault: object) -> Restorer:
        if not isinstance(vault, PseudonymVault):
            raise TypeError("restoring needs a PseudonymVault")
        return StreamRestorer(vault)

    def _find_pii(self, text: str) -> list[PiiSpan]:
        key = (self.gate.policy.version, text)
        cached = self._spans.get(key)
        if cached is None:
            cached = self.gate.find_pii(text, source="outgoing")  # raises GateError: fail closed
            self._spans.put(key, cached)
        return cached

    def _check_egress(self, request: ChatRequest) -> None:
        body = "\n".join(message.content for message in request.messages)
        decision = self.gate.classify(body, source="egress")
        if decision.tier == Tier.REGULATED or decision.failed_closed:
            raise EgressBlocked(f"outgoing request classified {decision.tier.value} by {decision.rule}")


def _pseudonymizable(detection: Detection, policy: Policy) -> list[PiiSpan]:
    """What `SensitivityGate.find_pii` returns for the text of `detection` (a test holds the two
    equal): the policy's pseudonymized types, without overlaps."""
    wanted = policy.pseudonymized_types()
    return resolve_overlaps([span for span in detection.spans if span.type in wanted])


def build_gate_privacy(settings: Settings) -> GatePrivacy:
    return GatePrivacy(build_gate(settings.routing))


__all__ = ["EgressBlocked", "GateError", "GatePrivacy", "build_gate_privacy"]
