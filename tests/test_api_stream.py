"""The API's SSE stream (issue 15 item 7): the role chunk and the first answer text leave in one body
message, so the first word costs one trip through the ASGI middlewares, and the stream still
parses, event by event, as the OpenAI wire format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from assistant.api.completions import Exchange
from assistant.api.schema import ChatCompletionRequest
from assistant.turns import AnswerDelta, Notice, TurnEvent


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
        first = await exchange.first()
        return [piece async for piece in exchange.stream(first, sources=False)]

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


def test_a_first_event_with_no_text_sends_the_role_chunk_alone() -> None:
    pieces = _pieces(
        Notice("hosted_not_configured", "Answers come from the private model."), AnswerDelta("Hi")
    )
    assert [json.loads(frame)["choices"][0]["delta"] for frame in _parsed(pieces[0])] == [
        {"role": "assistant", "content": ""}
    ]
    assert json.loads(_parsed(pieces[1])[0])["choices"][0]["delta"] == {"content": "Hi"}
