"""`render_turn` and the "Ask a person" hand-over against a real Chainlit context whose emitter
records what would reach the browser: a rendering change is caught here without a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import chainlit as cl
import pytest
from chainlit.context import context, init_http_context

from assistant.identity import Principal
from assistant.turns import AnswerDelta, ConfidenceView, Conversation, Notice, Receipt, SourceRef, TurnResult
from assistant.ui.chat_render import FAILED, FOOTER_SEPARATOR, RECEIPT_STEP, render_turn
from assistant.ui.sources import ASK_A_PERSON, question_of_turn
from routing.tiers import Route, Tier


class Recorder:
    """Stands in for the socket: every step, token and action the UI would emit."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def install(self) -> None:
        init_http_context()
        emitter = context.emitter
        for name in ("send_step", "update_step", "stream_start"):
            setattr(emitter, name, self._recorder(name))

        async def send_token(**kwargs: Any) -> None:
            self.events.append(("token", kwargs))

        emitter.send_token = send_token  # type: ignore[method-assign,assignment]

    def _recorder(self, name: str) -> Any:
        async def record(data: dict[str, Any]) -> None:
            self.events.append((name, data))

        return record

    def steps(self, kind: str = "send_step") -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == kind]


class ScriptedPipeline:
    def __init__(self, *events: object, fail: bool = False) -> None:
        self.script, self.fail = events, fail

    async def run(self, conversation: Conversation, text: str) -> AsyncIterator[object]:
        conversation.remember(text, "")
        for event in self.script:
            yield event
        if self.fail:
            raise RuntimeError("boom")


def _result(**changes: Any) -> TurnResult:
    receipt = Receipt(
        tier=Tier.INTERNAL, route=Route.LOCAL, rule="internal_local", model="SmolLM2", model_kind="local"
    )
    base: dict[str, Any] = {
        "answer": "The cafeteria opens at 7:30 [1].",
        "outcome": "ok",
        "route": "local",
        "model": "SmolLM2",
        "latency_ms": 1200.0,
        "receipt": receipt,
        "sources": (
            SourceRef(number=1, doc_id="d", title="Handbook", location="Cafeteria", snippet="opens at 7:30",
                      passage="The cafeteria opens at 7:30.", highlight="opens at 7:30"),
        ),
        "confidence": ConfidenceView(level="high", score=0.9, reason="every sentence is in a source"),
    }  # fmt: skip
    return TurnResult(**(base | changes))


@pytest.fixture
async def recorder() -> Recorder:
    rec = Recorder()
    rec.install()
    return rec


def _conversation() -> Conversation:
    return Conversation(id="t1", principal=Principal(user_id="avery"))


async def test_an_answer_gets_its_footer_sources_ask_a_person_and_receipt(recorder: Recorder) -> None:
    conversation = _conversation()
    pipeline = ScriptedPipeline(AnswerDelta("The cafeteria "), AnswerDelta("opens at 7:30 [1]."), _result())
    result = await render_turn(conversation, "When does the cafeteria open?", pipeline)
    assert result is not None
    answer = next(step for step in recorder.steps() if step["type"] == "assistant_message")
    body, footer = answer["output"].split(FOOTER_SEPARATOR)
    assert body.startswith("The cafeteria opens at 7:30 [1].") and "Sources: [1] Handbook" in body
    assert (
        footer.startswith("`internal` · Private local model · SmolLM2 · 1.2 s")
        and "`high confidence`" in footer
    )
    # The first token opens the stream; the rest follow as tokens.
    streamed = recorder.steps("stream_start")[0]["output"]
    streamed += "".join(event["token"] for name, event in recorder.events if name == "token")
    assert streamed == "The cafeteria opens at 7:30 [1]."
    receipt = [step for step in recorder.steps() if step["name"] == RECEIPT_STEP]
    assert receipt and receipt[0]["parentId"] == answer["id"]


async def test_every_answer_offers_a_person_for_its_own_turn(recorder: Recorder) -> None:
    conversation = _conversation()
    sent: list[cl.Message] = []
    original = cl.Message.send

    async def keep(self: cl.Message) -> cl.Message:
        sent.append(self)
        return await original(self)

    cl.Message.send = keep  # type: ignore[method-assign]
    try:
        await render_turn(conversation, "first question", ScriptedPipeline(_result()))
        await render_turn(conversation, "second question", ScriptedPipeline(_result()))
        await render_turn(conversation, "third", ScriptedPipeline(_result(escalation_id="e" * 32)))
    finally:
        cl.Message.send = original  # type: ignore[method-assign]
    actions = [[(a.name, a.payload) for a in message.actions] for message in sent]
    assert actions[0] == [(ASK_A_PERSON, {"reason": "user_request", "turn": 1})]
    assert actions[1] == [(ASK_A_PERSON, {"reason": "user_request", "turn": 2})]
    assert actions[2] == []  # this turn already opened a ticket
    assert question_of_turn(conversation.history, 1) == "first question"
    assert question_of_turn(conversation.history, "2") == "third"  # a forged number: the latest


async def test_a_failing_turn_says_so_in_a_sentence(recorder: Recorder) -> None:
    pipeline = ScriptedPipeline(
        AnswerDelta("partial"), Notice("fallback", "Used the local model."), fail=True
    )
    assert await render_turn(_conversation(), "hello", pipeline) is None
    outputs = [step["output"] for step in recorder.steps()]
    assert "> **Note:** Used the local model." in outputs and FAILED in outputs
