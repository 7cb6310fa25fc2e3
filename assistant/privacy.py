"""The pipeline's view of the privacy machinery in `routing/`.

`Privacy` is the seam: assess a piece of text (the gate's own `GateDecision`, so a turn has one
decision type from the gate to the receipt), say where a tier may go, pseudonymize a request and
restore an answer. `FailClosedPrivacy` is what runs when the gate cannot load: every turn is
treated as regulated and stays on the local model.
"""

from __future__ import annotations

from typing import Protocol

from models.base import ChatRequest
from routing.decision import GateDecision
from routing.tiers import Route, Tier


class Restorer(Protocol):
    def feed(self, text: str) -> str: ...

    def flush(self) -> str: ...


class Privacy(Protocol):
    def assess(self, text: str, *, source: str) -> GateDecision: ...

    def route_for(self, tier: Tier) -> Route: ...

    def new_vault(self) -> object: ...

    def pseudonymize(self, request: ChatRequest, vault: object) -> tuple[ChatRequest, dict[str, int]]: ...

    def restorer(self, vault: object) -> Restorer: ...


class _Passthrough:
    def feed(self, text: str) -> str:
        return text

    def flush(self) -> str:
        return ""


class FailClosedPrivacy:
    """Used when the gate cannot run: everything is regulated, nothing leaves the machine."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def assess(self, text: str, *, source: str) -> GateDecision:
        return GateDecision(
            tier=Tier.REGULATED,
            route=Route.LOCAL,
            rule="fail-closed",
            reasons=(f"the sensitivity gate is unavailable ({self.reason}); treated as regulated",),
            policy_version="",
            source=source,
            failed_closed=True,
        )

    def route_for(self, tier: Tier) -> Route:
        return Route.LOCAL

    def new_vault(self) -> object:
        return None

    def pseudonymize(self, request: ChatRequest, vault: object) -> tuple[ChatRequest, dict[str, int]]:
        raise RuntimeError("fail-closed privacy never pseudonymizes: nothing may leave")

    def restorer(self, vault: object) -> Restorer:
        return _Passthrough()


def passthrough_restorer() -> Restorer:
    return _Passthrough()
