"""Structured outputs with scripted models: extraction, validation, re-asks, degradation, stats."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from models.base import ChatMessage, ChatRequest, ModelUnavailable
from models.fakes import QueueModel
from routing.structured import (
    StructuredOutputError,
    StructuredStats,
    ask_structured,
    extract_json_object,
)


class Rewrite(BaseModel):
    query: str = Field(min_length=1)
    keywords: list[str]


REQUEST = ChatRequest.of(
    [
        ChatMessage(role="system", content="You rewrite queries."),
        ChatMessage(role="user", content="vpn broken?"),
    ]
)


def test_extracts_the_first_object_from_fences_and_prose() -> None:
    assert extract_json_object('Sure! ```json\n{"a": {"b": "}"}}\n``` more {"c": 1}') == '{"a": {"b": "}"}}'
    assert extract_json_object('[1, 2] then {bad then {"ok": true}') == '{"ok": true}'
    assert extract_json_object("no json here") is None
    assert extract_json_object('{"unterminated": ') is None


async def test_valid_first_answer() -> None:
    model = QueueModel('Here you go:\n```json\n{"query": "vpn not connecting", "keywords": ["vpn"]}\n```')
    stats = StructuredStats()
    result = await ask_structured(model, REQUEST, Rewrite, stats=stats)
    assert result.value == Rewrite(query="vpn not connecting", keywords=["vpn"])
    assert len(result.attempts) == 1 and not result.degraded
    sent = model.requests[0]
    assert sent.json_mode
    assert sent.messages[0].role == "system" and "You rewrite queries." in sent.messages[0].content
    assert '"keywords"' in sent.messages[0].content  # the schema is in the instruction
    assert stats.first_try == 1 and stats.success_rate == 1.0


async def test_reasks_with_the_validation_error() -> None:
    model = QueueModel('{"query": "", "keywords": "vpn"}', '{"query": "vpn", "keywords": ["vpn"]}')
    stats = StructuredStats()
    result = await ask_structured(model, REQUEST, Rewrite, stats=stats)
    assert result.value.query == "vpn"
    assert [a.error is None for a in result.attempts] == [False, True]
    reask = model.requests[1].messages
    assert reask[-2].role == "assistant" and reask[-2].content == '{"query": "", "keywords": "vpn"}'
    assert reask[-1].role == "user" and "query" in reask[-1].content and "keywords" in reask[-1].content
    assert stats.after_reask == 1 and stats.invalid_attempts == 1


async def test_bounded_reasks_end_in_a_typed_error_with_the_attempts() -> None:
    model = QueueModel(default="I cannot do JSON, sorry.")
    stats = StructuredStats()
    with pytest.raises(StructuredOutputError) as caught:
        await ask_structured(model, REQUEST, Rewrite, max_reasks=2, stats=stats)
    assert len(model.requests) == 3
    assert [a.raw for a in caught.value.attempts] == ["I cannot do JSON, sorry."] * 3
    assert caught.value.attempts[0].error == "no JSON object found in the reply"
    assert stats.failed == 1 and stats.success_rate == 0.0


async def test_degrades_to_the_default() -> None:
    fallback = Rewrite(query="vpn broken?", keywords=[])
    stats = StructuredStats()
    result = await ask_structured(
        QueueModel(default="{}"), REQUEST, Rewrite, max_reasks=0, default=fallback, stats=stats
    )
    assert result.degraded and result.value == fallback and len(result.attempts) == 1
    assert stats.degraded == 1 and stats.calls == 1


async def test_model_failures_propagate_unchanged() -> None:
    with pytest.raises(ModelUnavailable):
        await ask_structured(QueueModel(ModelUnavailable("down")), REQUEST, Rewrite)


async def test_request_without_system_message_gets_one() -> None:
    model = QueueModel('{"query": "q", "keywords": []}')
    await ask_structured(model, ChatRequest.of([ChatMessage(role="user", content="q")]), Rewrite)
    assert [m.role for m in model.requests[0].messages] == ["system", "user"]


def test_stats_before_any_call() -> None:
    assert StructuredStats().success_rate is None
