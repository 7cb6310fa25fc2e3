"""The streamed completion's response at the ASGI level: its headers leave when a model accepted
the request (before the first token), a refusal decided before that is an HTTP error, and one
decided after it is an `error` event in the stream, as OpenAI streams one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.background import BackgroundTask

from assistant.api.completions import Exchange
from assistant.api.errors import ApiError
from assistant.api.event_stream import EventStreamResponse
from assistant.api.schema import ChatCompletionRequest
from assistant.turns import AnswerDelta, Notice, Receipt, TurnEvent, TurnResult
from models.base import stream_accepted
from routing.tiers import Route, Tier

SCOPE: dict[str, Any] = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
BUSY = "The private model is busy; try again in a minute."


def _result(outcome: str, answer: str) -> TurnResult:
    receipt = Receipt(tier=Tier.PUBLIC, route=Route.HOSTED, rule="public_hosted")
    return TurnResult(answer=answer, outcome=outcome, route="hosted", model="m", receipt=receipt)  # type: ignore[arg-type]


class Turn:
    """Scripted turn events; `accept` marks where a model accepted the request, and the test can
    look at what was sent by then."""

    def __init__(self, *events: TurnEvent | str, sent: list[dict[str, Any]]) -> None:
        self.script, self.sent = events, sent
        self.sent_when_first_token: list[str] | None = None

    async def events(self) -> AsyncIterator[TurnEvent]:
        for event in self.script:
            if event == "accept":
                await stream_accepted()
                continue
            if isinstance(event, AnswerDelta) and self.sent_when_first_token is None:
                self.sent_when_first_token = [message["type"] for message in self.sent]
            assert not isinstance(event, str)
            yield event


async def _serve(turn: Turn) -> tuple[list[dict[str, Any]], list[ApiError], list[str]]:
    request = ChatCompletionRequest.model_validate(
        {"model": "confidante", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    )
    exchange = Exchange(request, turn.events(), "chatcmpl-test")
    refusals: list[ApiError] = []
    settled: list[str] = []

    async def refused(failure: ApiError) -> None:
        refusals.append(failure)

    async def settle() -> None:
        settled.append("settled")

    response = EventStreamResponse(
        exchange.stream(sources=False), opening=exchange, refused=refused, background=BackgroundTask(settle)
    )
    disconnect = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await disconnect.wait()  # the client stays until the stream ends
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        turn.sent.append(message)

    await response(SCOPE, receive, send)
    return turn.sent, refusals, settled


def _data(messages: list[dict[str, Any]]) -> list[Any]:
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body").decode()
    frames = [frame.removeprefix("data: ") for frame in body.split("\n\n") if frame]
    return [frame if frame == "[DONE]" else json.loads(frame) for frame in frames]


def test_the_headers_leave_when_a_model_accepts_before_the_first_token() -> None:
    sent: list[dict[str, Any]] = []
    turn = Turn(
        "accept", AnswerDelta("Hello"), AnswerDelta(" there"), _result("ok", "Hello there"), sent=sent
    )
    messages, refusals, settled = asyncio.run(_serve(turn))
    assert turn.sent_when_first_token == ["http.response.start"]  # headers out, no body yet
    assert messages[0]["status"] == 200 and refusals == [] and settled == ["settled"]
    frames = _data(messages)
    assert [f["choices"][0]["delta"] for f in frames[:3]] == [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {"content": " there"},
    ]
    assert frames[3]["confidante"]["outcome"] == "ok" and frames[-1] == "[DONE]"


def test_without_a_model_accepting_the_headers_leave_with_the_first_piece() -> None:
    """A cached or "not found" answer: no model ran, the answer streams as before."""
    sent: list[dict[str, Any]] = []
    turn = Turn(
        AnswerDelta("Not in the handbook.", whole=True), _result("ok", "Not in the handbook."), sent=sent
    )
    messages, refusals, _settled = asyncio.run(_serve(turn))
    assert [m["type"] for m in messages[:2]] == ["http.response.start", "http.response.body"]
    assert _data(messages)[1]["choices"][0]["delta"] == {"content": "Not in the handbook."}
    assert refusals == []


def test_a_refusal_before_any_model_accepted_is_an_http_error_and_no_stream() -> None:
    sent: list[dict[str, Any]] = []
    turn = Turn(Notice("fallback", "x"), AnswerDelta(BUSY, whole=True), _result("busy", BUSY), sent=sent)
    messages, refusals, settled = asyncio.run(_serve(turn))
    assert messages[0]["status"] == 429 and [r.code for r in refusals] == ["model_busy"]
    body = json.loads(b"".join(m.get("body", b"") for m in messages[1:]))
    assert body["error"]["code"] == "model_busy" and body["error"]["message"] == BUSY
    assert settled == []  # nothing was streamed or charged: the refusal is recorded as an error


def test_a_refusal_after_the_headers_is_an_error_event_not_the_sentence_as_content() -> None:
    """The hosted model accepted, then failed before its first token; the private model it fell
    back to was busy: the headers had left, so the refusal is an `error` event."""
    sent: list[dict[str, Any]] = []
    turn = Turn(
        "accept", Notice("fallback", "x"), AnswerDelta(BUSY, whole=True), _result("busy", BUSY), sent=sent
    )
    messages, refusals, settled = asyncio.run(_serve(turn))
    assert messages[0]["status"] == 200 and refusals == []
    frames = _data(messages)
    assert frames[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert frames[1]["error"]["code"] == "model_busy" and frames[-1] == "[DONE]"
    assert not any(BUSY in json.dumps(f) for f in frames[:1])
    assert settled == ["settled"]


def test_an_unexpected_error_before_the_headers_is_a_500_in_the_openai_shape() -> None:
    class Broken(Turn):
        async def events(self) -> AsyncIterator[TurnEvent]:
            raise RuntimeError("boom")
            yield  # pragma: no cover

    messages, refusals, _settled = asyncio.run(_serve(Broken(sent=[])))
    assert messages[0]["status"] == 500 and refusals[0].type == "server_error"
    assert b"boom" not in b"".join(m.get("body", b"") for m in messages)
