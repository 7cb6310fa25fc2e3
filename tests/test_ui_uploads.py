"""Upload progress in the chat: a reopened chat's stale progress line is closed when the job ends,
and the summary still reaches the thread when the session that started the job is gone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import chainlit as cl
from chainlit.context import context, init_http_context

from assistant.ui.uploads import ChainlitJobEvents, closing_text
from assistant.uploads.jobs import JobStatus, JobView


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
    assert {data["id"] for data in updated} == {first.id, second.id}
    assert [data["output"] for data in sent] == ["Summary of report.pdf · 3 pages"]
