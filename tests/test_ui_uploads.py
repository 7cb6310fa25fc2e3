"""Upload progress in the chat: a reopened chat's stale progress line is closed when the job ends,
and the summary still reaches the thread when the session that started the job is gone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import chainlit as cl
import pytest
from chainlit.context import context, init_http_context

from assistant.ui.uploads import RECEIPT_STEP, ChainlitJobEvents, closing_text, send_result
from assistant.uploads.jobs import JobStatus, JobView
from assistant.uploads.rendering import CITED_PAGES_MARKER, md_escape, render_summary, split_summary
from assistant.uploads.summarize import Summary, SummaryPoint
from knowledge.parsing.documents import Section
from routing.tiers import Tier
from tests.test_ui_render import Recorder


@pytest.fixture
async def recorder() -> Recorder:
    rec = Recorder()
    rec.install()
    return rec


def _job(status: JobStatus = "done") -> JobView:
    now = datetime.now(UTC)
    return JobView(
        id="job1", owner="avery", thread_id="t1", document_id=None, display_name="report.pdf",
        page_count=3, tier="internal", status=status, progress_done=3, progress_total=3,
        progress_label="3 of 3", result_summary="Summary of report.pdf · 3 pages", error=None,
        attempts=1, cancel_requested=False, created_at=now, updated_at=now, heartbeat_at=None,
    )  # fmt: skip


async def test_every_progress_line_of_a_reopened_chat_is_closed_and_the_summary_posted() -> None:
    init_http_context()
    sent: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []

    async def record_send(data: dict[str, Any]) -> None:
        sent.append(data)

    async def record_update(data: dict[str, Any]) -> None:
        updated.append(data)

    # Every context the code creates uses a fresh emitter; patch the class they share.
    emitter_type = type(context.emitter)
    original = emitter_type.send_step, emitter_type.update_step
    setattr(emitter_type, "send_step", lambda self, data: record_send(data))
    setattr(emitter_type, "update_step", lambda self, data: record_update(data))
    try:
        events = ChainlitJobEvents()
        first = cl.Message(content="⏳ Summarizing report.pdf: page 1 of 3", author="Confidante")
        second = cl.Message(content="⏳ Summarizing report.pdf: page 2 of 3", author="Confidante")
        events.attach("job1", "session-closed-long-ago", first)
        events.attach("job1", "session-of-the-reopened-chat", second)  # the chat was reopened
        await events.job_finished(_job())  # neither session is alive here
    finally:
        emitter_type.send_step, emitter_type.update_step = original  # type: ignore[method-assign]
    assert first.content == second.content == closing_text(_job())
    assert first.content.startswith("✅")
    assert {data["id"] for data in updated if data["type"] == "assistant_message"} == {first.id, second.id}
    answers = [data["output"] for data in sent if data["type"] == "assistant_message"]
    assert answers == ["Summary of report.pdf · 3 pages"]


def _summary() -> Summary:
    points = (
        SummaryPoint(text="Staff get 30 days of leave.", ref="p. 2", origin="model"),
        SummaryPoint(text="Claims go to [HR](https://evil).", ref="p. 3", origin="quote"),
    )
    return Summary(
        title="Handbook", tier=Tier.INTERNAL, overview=None, overview_by=None, points=points,
        map_steps=2, model_calls=3, excerpted=False,
    )  # fmt: skip


SECTIONS = (
    Section(text="Welcome to the handbook.", start=0, end=24, page=1),
    Section(text="Staff get 30 days of leave a year.", start=25, end=59, page=2),
    Section(text="Claims go to [HR](https://evil).", start=60, end=92, page=3),
)


def test_the_stored_summary_carries_only_the_cited_pages_and_shows_none_of_it() -> None:
    stored = render_summary(_summary(), display_name="h.pdf", pages=3, local_model="tiny", sections=SECTIONS)
    split = split_summary(stored)
    assert split.pages == {"p. 2": SECTIONS[1].text, "p. 3": SECTIONS[2].text}  # page 1 is not cited
    assert "[p. 2]" in split.text and "cited-pages" not in split.text and "Welcome" not in split.text
    assert split.receipt["tier"] == "internal" and split.receipt["model_calls"] == 3
    # Summaries stored before the trailer existed, or with a damaged one, still show in full.
    assert split_summary("Old summary [p. 1]").text == "Old summary [p. 1]"
    assert split_summary(split.text + CITED_PAGES_MARKER + "{oops").text == split.text


async def test_a_summary_is_an_answer_with_page_links_a_receipt_and_feedback(recorder: Recorder) -> None:
    stored = render_summary(_summary(), display_name="h.pdf", pages=3, local_model="tiny", sections=SECTIONS)
    job = _job().model_copy(update={"result_summary": stored})
    message = await send_result(job)
    steps = recorder.steps()
    answer = next(step for step in steps if step["type"] == "assistant_message")
    assert answer["output"] == split_summary(stored).text and "[p. 3]" in answer["output"]
    # Chainlit links every `[p. n]` in the text to the side element of that name.
    pages = {element.name: element for element in message.elements}
    assert set(pages) == {"[p. 2]", "[p. 3]"} and all(e.display == "side" for e in pages.values())
    assert pages["[p. 3]"].content == md_escape(SECTIONS[2].text)  # document text cannot inject a link
    # Feedback buttons belong to a run: the summary is sent inside its own run step.
    run = next(step for step in steps if step["type"] == "run")
    assert answer["parentId"] == run["id"]
    receipt = [step for step in recorder.steps("update_step") if step["name"] == RECEIPT_STEP]
    assert receipt and receipt[-1]["parentId"] == answer["id"]
    assert "`internal`" in receipt[-1]["output"] and "Model calls:** 3" in receipt[-1]["output"]
