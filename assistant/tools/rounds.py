"""A model round of the tool loop on the routed path, for callers without the chat pipeline
(the CLI, evaluations, integration tests).

`RoutedRound` builds one request (the turn's messages, then the tool exchange so far, with the
tools on offer), walks `ModelSet.chain(route)` with `in_order` (the one fallback loop), and on a
pseudonymized candidate pseudonymizes the whole request (tool results included) and restores
the answer text. The chat pipeline has its own round (answer filter, notices, call records) over
the same chain. Tools are described only to a model that supports them (`supports_tools`).

Nothing here decides a route: the loop passes the route of the turn's current decision, and a
local-only route's chain holds the guarded local model alone.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assistant.tools.chat_turn import request_in_window
from assistant.tools.loop import RoundRequest
from models.base import ChatMessage, ChatModel, ChatRequest, StreamEvent, TextDelta
from routing.retry import closing_stream
from routing.routed import CallRecord, Candidate, FellBack, ModelSet, call_record, in_order


class Restoring(Protocol):
    def feed(self, text: str) -> str: ...

    def flush(self) -> str: ...


class Pseudonymizer(Protocol):
    """What `assistant.privacy.Privacy` offers for the hosted half of a route."""

    def new_vault(self) -> object: ...

    def pseudonymize(self, request: ChatRequest, vault: object) -> tuple[ChatRequest, dict[str, int]]: ...

    def restorer(self, vault: object) -> Restoring: ...


class VaultPlaceholders(Mapping[str, str]):
    """Placeholder -> original value, read live from a pseudonym vault (it grows during a turn,
    and a conversation makes its vault lazily: `vault` is called at each read)."""

    def __init__(self, vault: Callable[[], object]) -> None:
        self._vault = vault

    def _pairs(self) -> dict[str, str]:
        vault = self._vault()
        placeholders = getattr(vault, "placeholders", None)
        original = getattr(vault, "original", None)
        if placeholders is None or original is None:
            return {}
        return {p: value for p in placeholders() if (value := original(p)) is not None}

    def __getitem__(self, key: str) -> str:
        return self._pairs()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs())

    def __len__(self) -> int:
        return len(self._pairs())


def supports_tools_by_kind(local_supports: bool) -> Callable[[ChatModel], bool]:
    """Hosted (OpenAI-compatible) models take tools; the local one as its settings say."""
    return lambda model: model.kind == "hosted" or local_supports


@dataclass
class RoutedRound:
    models: ModelSet
    messages: Sequence[ChatMessage]
    privacy: Pseudonymizer | None = None
    supports_tools: Callable[[ChatModel], bool] = field(default=lambda _model: True)
    max_tokens: int = 512
    temperature: float = 0.0
    vault: object | None = None
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def placeholders(self) -> Mapping[str, str]:
        return VaultPlaceholders(lambda: self.vault)

    async def __call__(self, request: RoundRequest) -> AsyncIterator[object]:
        async for item in in_order(self.models.chain(request.route), lambda c: self._attempt(c, request)):
            if not isinstance(item, FellBack):
                yield item

    async def _attempt(self, candidate: Candidate, round_: RoundRequest) -> AsyncGenerator[StreamEvent, None]:
        model = candidate.model
        base = ChatRequest.of(self.messages, max_tokens=self.max_tokens, temperature=self.temperature)
        request = request_in_window(base, model, round_, supports=self.supports_tools(model))
        restorer: Restoring | None = None
        if candidate.pseudonymize:
            if self.privacy is None:
                raise RuntimeError("a pseudonymized route needs the privacy layer")  # fail closed
            self.vault = self.vault if self.vault is not None else self.privacy.new_vault()
            request, _counts = self.privacy.pseudonymize(request, self.vault)
            restorer = self.privacy.restorer(self.vault)
        raw: list[str] = []
        async with closing_stream(model.stream(request)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    raw.append(event.text)
                    if restorer is not None:
                        event = TextDelta(restorer.feed(event.text))
                yield event
        if restorer is not None and (tail := restorer.flush()):
            yield TextDelta(tail)
        self.calls.append(call_record(model, request, "".join(raw), None, "ok", step="tool-round"))
