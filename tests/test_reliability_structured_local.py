"""Structured outputs once with the real local model (SmolLM2 with llama.cpp's JSON mode)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from models.base import ChatMessage, ChatRequest
from models.local import LocalModel
from routing.structured import StructuredOutputError, StructuredStats, ask_structured

pytestmark = pytest.mark.slow


class City(BaseModel):
    city: str


async def test_real_model_output_is_parsed_and_validated(local_llama_model: LocalModel) -> None:
    request = ChatRequest.of(
        [ChatMessage(role="user", content='What is the capital of France? Answer as {"city": "..."}')],
        max_tokens=32,
        temperature=0.0,
    )
    stats = StructuredStats()
    try:
        result = await ask_structured(local_llama_model, request, City, max_reasks=2, stats=stats)
    except StructuredOutputError as exc:
        # A 135M model may miss the schema; then every raw reply and its error must be on record.
        assert len(exc.attempts) == 3 and all(a.error for a in exc.attempts)
        assert stats.failed == 1
        return
    assert isinstance(result.value, City) and result.value.city.strip()
    assert result.attempts[-1].error is None
    assert stats.success_rate == 1.0
