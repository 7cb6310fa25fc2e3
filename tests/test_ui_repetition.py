"""A looping local answer, end to end from the model to what the browser would receive: the loop
guard cuts it, the pipeline says so in a notice, and the footer marks the answer as cut."""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from assistant.ui.chat_render import FOOTER_SEPARATOR, render_turn
from models.degeneration import REPETITION_NOTICE, LoopGuard
from models.fakes import QueueModel
from tests.support.privacy import ScriptedPrivacy
from tests.test_ui_render import Recorder

LOOP = "Dear team, " + "I am writing to you because " * 60


def _words(text: str) -> list[str]:
    return [piece + " " for piece in text.split(" ")]


async def _render(model: QueueModel) -> tuple[TurnResult | None, Recorder]:
    rec = Recorder()
    rec.install()
    pipeline = ChatPipeline(
        settings=Settings(), models=ModelSet(local=LoopGuard(model), hosted=[]), privacy=ScriptedPrivacy()
    )
    conversation = Conversation(id="t1", principal=Principal(user_id="avery"))
    result = await render_turn(conversation, "Draft an e-mail to my team", pipeline)
    return result, rec


def _answer_output(rec: Recorder) -> str:
    answers = [step for step in rec.steps() if step["type"] == "assistant_message"]
    return str(answers[-1]["output"])


async def test_a_looping_answer_is_cut_with_a_notice_and_marked_in_the_footer() -> None:
    model = QueueModel(_words(LOOP), name="local-fake")
    result, rec = await _render(model)
    assert result is not None and result.finish_reason == "repetition"
    assert model.cancelled == 1  # generation was stopped, not just hidden
    outputs = [str(step["output"]) for step in rec.steps()]
    assert f"> **Note:** {REPETITION_NOTICE}" in outputs
    body, footer = _answer_output(rec).split(FOOTER_SEPARATOR)
    assert body.count("I am writing to you because") < 10
    assert "answer cut: it started repeating" in footer


async def test_an_ordinary_answer_has_no_repetition_mark() -> None:
    result, rec = await _render(
        QueueModel(_words("Hello team, the meeting moves to Friday."), name="local-fake")
    )
    assert result is not None and result.finish_reason == "stop"
    outputs = [str(step["output"]) for step in rec.steps()]
    assert not any(REPETITION_NOTICE in output for output in outputs)
    assert "repeating" not in _answer_output(rec)
