"""The loop guard: scripted streams that loop are cut early and marked; normal text never is."""

from __future__ import annotations

import pytest

from models.base import ChatMessage, ChatRequest, StreamEnd, TextDelta, collect
from models.degeneration import LoopDetector, LoopGuard
from models.fakes import FunctionModel, QueueModel

REQUEST = ChatRequest.of([ChatMessage(role="user", content="Write the e-mail.")])


def words(text: str) -> list[str]:
    """Stream pieces the way a model sends them: a word (with its space) at a time."""
    return [piece + " " for piece in text.split(" ")]


async def run(model: QueueModel | FunctionModel) -> tuple[list[str], StreamEnd]:
    deltas: list[str] = []
    end: StreamEnd | None = None
    async for event in LoopGuard(model).stream(REQUEST):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            end = event
    assert end is not None
    return deltas, end


def first_cut(text: str) -> str | None:
    detector = LoopDetector()
    for piece in words(text):
        if reason := detector.feed(piece):
            return reason
    return None


async def test_a_phrase_looping_without_full_stops_is_cut_early_and_marked() -> None:
    loop = "Dear team, " + "I am writing to you because " * 60
    model = QueueModel(words(loop))
    deltas, end = await run(model)
    assert end.finish_reason == "repetition"
    assert end.text == "".join(deltas)
    assert end.text.count("I am writing to you because") <= 6  # not 60
    assert model.cancelled == 1  # the inner stream was closed, so generation stopped


async def test_a_repeated_line_is_cut() -> None:
    text = "Here is the form: HR-12.\n" + "[HTML removed: script]\n" * 20
    _, end = await run(QueueModel(words(text)))
    assert end.finish_reason == "repetition"
    assert end.text.count("[HTML removed: script]") < 20


async def test_the_same_sentence_coming_back_between_others_is_cut() -> None:
    text = " ".join(
        f"The home office allowance is EUR 450 for everyone. Point {n} is different from the others."
        for n in range(12)
    )
    _, end = await run(QueueModel(words(text)))
    assert end.finish_reason == "repetition"
    assert end.text.count("The home office allowance is EUR 450") == 5


@pytest.mark.parametrize(
    "text",
    [
        "very " * 40,
        "!" * 300,
        "yes no " * 30,
    ],
)
def test_short_period_runs_are_loops(text: str) -> None:
    assert first_cut(text) is not None


NORMAL = {
    "numbered list": "\n".join(
        f"{n}. Check the {item} before you leave."
        for n, item in enumerate(
            [
                "windows",
                "lights",
                "heating",
                "coffee machine",
                "printer",
                "doors",
                "alarm",
                "blinds",
                "plants",
            ],
            1,
        )
    ),
    "table": "| Day | Office open | Canteen open |\n| --- | --- | --- |\n"
    + "\n".join(f"| {day} | yes | yes |" for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])
    + "\n| Saturday | no | no |\n| Sunday | no | no |",
    "counting": ", ".join(str(n) for n in range(1, 101)),
    "e-mail": (
        "Dear team,\n\nI would like to invite you to our planning meeting on Thursday at 10:00 in room "
        "4.12. We will review the roadmap, agree on priorities for the next quarter and assign owners. "
        "Please bring your notes.\n\nThank you, and see you there.\n\nBest regards,\nMaria"
    ),
    "bullets with a shared start": "\n".join(
        f"- You can claim the {what} through the expenses portal within three months."
        for what in [
            "allowance",
            "train tickets",
            "hotel costs",
            "meals abroad",
            "conference fees",
            "taxi fares",
        ]
    ),
    "steps repeating a short line": "\n".join(
        f"Step {n}:\nSave the file.\nClose the editor." for n in (1, 2, 3)
    ),
}


@pytest.mark.parametrize("name", sorted(NORMAL))
async def test_normal_text_is_never_cut(name: str) -> None:
    text = NORMAL[name]
    assert first_cut(text) is None
    deltas, end = await run(QueueModel(words(text)))
    assert end.finish_reason == "stop" and end.text == "".join(deltas)


async def test_a_normal_ending_is_passed_through_unchanged() -> None:
    model = FunctionModel(lambda _r: ["Hello ", "there."], name="inner", kind="hosted")
    guard = LoopGuard(model)
    end = await collect(guard.stream(REQUEST))
    assert (end.text, end.finish_reason, end.model, end.kind) == ("Hello there.", "stop", "inner", "hosted")
    assert guard.last_reason is None


async def test_the_cut_record_counts_tokens_and_keeps_identity() -> None:
    model = QueueModel(words("Sorry. " + "I cannot help with that request today. " * 10), name="small")
    guard = LoopGuard(model)
    end = await collect(guard.stream(REQUEST))
    assert (end.model, end.kind, end.finish_reason) == ("small", "local", "repetition")
    assert end.usage.completion_tokens == model.count_tokens(end.text) > 0
    assert guard.last_reason is not None and "times" in guard.last_reason


def test_the_guard_reaches_the_wrapped_models_other_methods() -> None:
    class Closable(QueueModel):
        closed = False

        def close(self) -> None:
            self.closed = True

    inner = Closable()
    guard = LoopGuard(inner)
    guard.close()
    assert inner.closed and guard.context_window == inner.context_window
