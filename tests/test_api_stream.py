"""The API's SSE stream (issue 15 item 7): the role chunk and the first answer text leave in one body
message, so the first word costs one trip through the ASGI middlewares, and the stream still
parses, event by event, as the OpenAI wire format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from assistant.api.completions import Exchange, error_for
from assistant.api.schema import ChatCompletionRequest
from assistant.turns import AnswerDelta, Notice, Receipt, TurnEvent, TurnResult
from routing.tiers import Route, Tier


def _request() -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "confidante", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    )


async def _events(*events: TurnEvent) -> AsyncIterator[TurnEvent]:
    for event in events:
        yield event


def _pieces(*events: TurnEvent) -> list[bytes]:
    async def run() -> list[bytes]:
        exchange = Exchange(_request(), _events(*events), "chatcmpl-test")
        await exchange.opening()
        return [piece async for piece in exchange.stream(sources=False)]

    return asyncio.run(run())


def _parsed(piece: bytes) -> list[Any]:
    frames = piece.decode().split("\n\n")
    assert frames[-1] == "" and all(frame.startswith("data: ") for frame in frames[:-1])
    return [frame.removeprefix("data: ") for frame in frames[:-1]]


def test_the_role_chunk_and_the_first_words_are_one_body_message() -> None:
    pieces = _pieces(AnswerDelta("Hello"), AnswerDelta(" there"))
    role, first = (json.loads(frame) for frame in _parsed(pieces[0]))
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert (
        first["choices"][0]["delta"] == {"content": "Hello"} and first["id"] == role["id"] == "chatcmpl-test"
    )
    second = [json.loads(frame) for frame in _parsed(pieces[1])]
    assert [chunk["choices"][0]["delta"] for chunk in second] == [{"content": " there"}]
    assert _parsed(pieces[-1]) == ["[DONE]"]


def test_notices_before_the_first_words_are_held_and_render_as_nothing() -> None:
    pieces = _pieces(
        Notice("hosted_not_configured", "Answers come from the private model."), AnswerDelta("Hi")
    )
    deltas = [json.loads(frame)["choices"][0]["delta"] for frame in _parsed(pieces[0])]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "Hi"}]


def _result(outcome: str, answer: str, model: str = "") -> TurnResult:
    receipt = Receipt(tier=Tier.PUBLIC, route=Route.HOSTED, rule="public_hosted")
    return TurnResult(answer=answer, outcome=outcome, route="none", model=model, receipt=receipt)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        ("busy", 429, "model_busy"),
        ("over_budget", 429, "insufficient_quota"),
        ("error", 503, "service_unavailable"),
    ],
)
def test_a_refusal_confidante_wrote_is_an_http_error_when_streamed_too(
    outcome: str, status: int, code: str
) -> None:
    """The pipeline writes the busy, over-budget or failure sentence as the whole answer, its result
    right behind it: the stream never starts, the client gets the status an SDK can act on."""
    sentence = "Try again in a minute."

    async def run() -> Exchange:
        events = _events(
            Notice("fallback", "The hosted model did not answer."),
            AnswerDelta(sentence, whole=True),
            _result(outcome, sentence),
        )
        exchange = Exchange(_request(), events, "chatcmpl-test")
        await exchange.opening()
        return exchange

    exchange = asyncio.run(run())
    assert exchange.result is not None
    failure = error_for(exchange.result)
    assert failure is not None and failure.status == status
    assert failure.code == code and failure.message == sentence


def test_a_whole_answer_that_is_not_a_refusal_streams_with_its_result_read() -> None:
    """A cached or "not found" answer is whole too: it streams, and its result is already known."""
    pieces = _pieces(
        AnswerDelta("Not in the handbook.", whole=True), _result("ok", "Not in the handbook.", "m")
    )
    frames = [json.loads(frame) for frame in _parsed(pieces[0]) if frame != "[DONE]"]
    assert frames[1]["choices"][0]["delta"] == {"content": "Not in the handbook."}
    assert any(frame.get("confidante", {}).get("outcome") == "ok" for piece in pieces for frame in
               (json.loads(f) for f in _parsed(piece) if f != "[DONE]"))  # fmt: skip
