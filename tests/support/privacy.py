"""A scripted privacy gate for unit tests of logic (integration tests use the real gate).

"SSN" in a text makes it regulated; `internal_word` makes it internal; `value` is the one personal
value pseudonymized as `placeholder` and restored in answers.
"""

from __future__ import annotations

from assistant.privacy import Restorer
from models.base import ChatRequest
from routing.decision import EntityFinding, GateDecision
from routing.tiers import Route, Tier


class _Restorer:
    def __init__(self, placeholder: str, value: str) -> None:
        self._placeholder, self._value = placeholder, value

    def feed(self, text: str) -> str:
        return text.replace(self._placeholder, self._value)

    def flush(self) -> str:
        return ""


class ScriptedPrivacy:
    def __init__(
        self,
        *,
        internal_word: str = "Alice",
        value: str = "Alice",
        entity: str = "PERSON",
        placeholder: str = "",
    ) -> None:
        self.internal_word, self.value, self.entity = internal_word, value, entity
        self.placeholder = placeholder or f"<{entity}_1>"

    def assess(self, text: str, *, source: str) -> GateDecision:
        if "SSN" in text:
            return self._decision(Tier.REGULATED, "US_SSN", source)
        if self.internal_word in text:
            return self._decision(Tier.INTERNAL, self.entity, source)
        return GateDecision(
            tier=Tier.PUBLIC, route=self.route_for(Tier.PUBLIC), rule="default", reasons=(),
            policy_version="", source=source,
        )  # fmt: skip

    def _decision(self, tier: Tier, entity: str, source: str) -> GateDecision:
        found = EntityFinding(type=entity, start=0, end=1, score=1.0, recognizer="scripted", tier=tier)
        return GateDecision(
            tier=tier, route=self.route_for(tier), rule=f"entity:{entity}", reasons=(),
            entities=(found,), policy_version="", source=source,
        )  # fmt: skip

    def route_for(self, tier: Tier) -> Route:
        return {Tier.REGULATED: Route.LOCAL, Tier.INTERNAL: Route.HOSTED_PSEUDONYMIZED}.get(
            tier, Route.HOSTED
        )

    def new_vault(self) -> object:
        return {}

    def pseudonymize(self, request: ChatRequest, vault: object) -> tuple[ChatRequest, dict[str, int]]:
        messages = [
            m.model_copy(update={"content": m.content.replace(self.value, self.placeholder)})
            for m in request.messages
        ]
        return request.model_copy(update={"messages": tuple(messages)}), {self.entity: 1}

    def restorer(self, vault: object) -> Restorer:
        return _Restorer(self.placeholder, self.value)
