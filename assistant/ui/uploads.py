"""Uploads in the Chainlit chat: intake replies, a live progress message with Cancel, the summary.

The lead's callbacks call four functions: `handle_uploads` (on_message), `on_cancel_action`
(action callback `CANCEL_ACTION`), `reattach_jobs` (on_chat_resume) and `ChainlitJobEvents`
(given to the worker at start-up). Background jobs outlive websocket sessions, so every job is
shown through a `JobDisplay` bound to a session id: while that session's browser is connected the
progress message is updated in it and the summary is sent into it; when it is gone (Chainlit keeps
a closed tab's session for an hour, so "gone" means its socket is disconnected), the summary is
written into the thread through the data layer (an HTTP-style Chainlit context acting as the
owner), so the user finds it when they come back. Reopening a chat binds its jobs to the new
session (with the job's earlier progress lines, from any replica, to close when it ends) before
they are followed, so their progress and result appear live there, once. A display never writes to
another user's thread: the owner comes from the job row.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chainlit as cl
from chainlit.context import init_http_context, init_ws_context
from chainlit.data import get_data_layer
from chainlit.session import WebsocketSession

from assistant.executors import run_io
from assistant.uploads.intake import IncomingFile
from assistant.uploads.jobs import ANNOUNCED, JobView
from assistant.uploads.rendering import StoredSummary, md_escape, receipt_writers, split_summary
from assistant.uploads.service import UploadService

log = logging.getLogger(__name__)
CANCEL_ACTION = "cancel_upload_job"
RECEIPT_STEP = "Privacy receipt"  # the same name as a chat answer's receipt
# Chainlit's frontend shows a run as "Used <name>" unless the name is one of its own callbacks';
# the summary answers the upload message, so its run takes on_message's name and shows like any
# answer (no wrapper line), with the feedback buttons on its last message.
SUMMARY_RUN = "on_message"
# Metadata key of a progress message (its job id), so a reopened chat finds the job's earlier
# progress lines in the stored thread; "upload_job" marks the result message.
PROGRESS_KEY = "upload_progress"


def socket_connected(session: WebsocketSession) -> bool:
    """True while the session's browser is connected (Chainlit keeps a closed tab's session)."""
    from chainlit.server import sio

    return bool(sio.manager.is_connected(session.socket_id, "/"))


@dataclass
class JobDisplay:
    session_id: str
    # None when the job had already ended as the chat was reopened: only its result is to show.
    message: cl.Message | None
    # Progress messages of earlier sessions (the chat was reopened): replaced by the closing line
    # when the job ends, so no stale "⏳ Summarizing …" stays in the thread.
    stale: list[cl.Message] = field(default_factory=list)

    def lines(self) -> list[cl.Message]:
        return [*self.stale, *([self.message] if self.message is not None else [])]


def progress_text(job: JobView) -> str:
    name = md_escape(job.display_name)
    if job.status == "queued":
        return f"⏳ {name}: waiting for the summarizer ({job.progress_label})"
    return f"⏳ Summarizing {name}: {job.progress_text}"


def finished_text(job: JobView) -> str:
    if job.status == "done":
        return split_summary(job.result_summary or "").text or "(empty summary)"
    name = md_escape(job.display_name)
    if job.status == "cancelled":
        return f"⏹ Summary of {name} cancelled."
    return f"⚠️ {name}: {job.error or 'the summary failed.'}"


def page_elements(stored: StoredSummary) -> list[cl.Text]:
    """One side element per cited page, named `[p. n]`: Chainlit links each `[p. n]` in the text
    to it. Page text is untrusted document text, so its markdown is escaped."""
    return [
        cl.Text(name=f"[{ref}]", content=md_escape(text), display="side")
        for ref, text in stored.pages.items()
    ]


def summary_receipt(job: JobView, stored: StoredSummary) -> str:
    """The summary's privacy receipt: tier, where it was written, never any value from the file."""
    facts = stored.receipt
    tier = str(facts.get("tier", job.tier))
    where = receipt_writers(facts, tier)
    lines = [
        f"- **Tier:** `{tier}`",
        f"- **Document:** {md_escape(job.display_name)}",
        f"- **Written by:** {where}",
    ]
    if "model_calls" in facts:
        lines.append(f"- **Model calls:** {facts['model_calls']}")
    return "\n".join(lines)


async def send_result(job: JobView) -> cl.Message:
    """The job's result as an answer: inside its own run (so it gets the feedback buttons, like a
    chat answer), with `[p. n]` opening the page in the side panel and a privacy receipt."""
    async with cl.Step(name=SUMMARY_RUN, type="run", show_input=False):
        if job.status != "done":
            message = cl.Message(
                content=finished_text(job), author="Confidante", metadata={"upload_job": job.id}
            )
            await message.send()
            return message
        stored = split_summary(job.result_summary or "")
        message = cl.Message(
            content=stored.text or "(empty summary)",
            author="Confidante",
            elements=page_elements(stored),  # type: ignore[arg-type]
            metadata={"upload_job": job.id, "tier": str(stored.receipt.get("tier", job.tier))},
        )
        await message.send()
        async with cl.Step(name=RECEIPT_STEP, type="tool", parent_id=message.id, show_input=False) as step:
            step.output = summary_receipt(job, stored)
        return message


def closing_text(job: JobView) -> str:
    """What the progress message says once the job has ended (never "finished" for a cancelled job)."""
    name = md_escape(job.display_name)
    if job.status == "done":
        return f"✅ Summarizing {name}: finished."
    if job.status == "cancelled":
        return f"⏹ Summarizing {name}: stopped."
    return f"⚠️ Summarizing {name}: did not finish."


class ChainlitJobEvents:
    """Shows job progress and results in whichever session currently displays the job."""

    def __init__(self, connected: Callable[[WebsocketSession], bool] = socket_connected) -> None:
        self._displays: dict[str, JobDisplay] = {}
        self._connected = connected

    def attach(
        self, job_id: str, session_id: str, message: cl.Message | None, earlier: Iterable[cl.Message] = ()
    ) -> None:
        """Show this job in `session_id` from now on; `earlier` progress lines get closed at its end."""
        previous = self._displays.get(job_id)
        lines = [*earlier, *(previous.lines() if previous is not None else [])]
        own = message.id if message is not None else None
        stale = list({line.id: line for line in lines if line.id != own}.values())
        self._displays[job_id] = JobDisplay(session_id, message, stale)

    def watching(self, job_id: str) -> bool:
        """True when the job's chat is open in a connected session of this process."""
        display = self._displays.get(job_id)
        return display is not None and self._live(display.session_id) is not None

    async def job_progress(self, job: JobView) -> None:
        display = self._displays.get(job.id)
        if display is None or display.message is None:
            return
        message = display.message

        async def update() -> None:
            message.content = progress_text(job)
            await message.update()

        await self._in_session(display.session_id, update)

    async def job_finished(self, job: JobView) -> None:
        display = self._displays.pop(job.id, None)
        if display is not None:
            lines = display.lines()

            async def finish() -> None:
                if display.message is not None:
                    await display.message.remove_actions()
                await _close_lines(job, lines)
                await send_result(job)

            if await self._in_session(display.session_id, finish):
                return
            await _close_stale(job, lines)
        await _post_to_thread(job)

    def _live(self, session_id: str) -> WebsocketSession | None:
        session = WebsocketSession.get_by_id(session_id)
        return session if session is not None and self._connected(session) else None

    async def _in_session(self, session_id: str, action: Callable[[], Awaitable[None]]) -> bool:
        """Run `action` in a connected session's context; False when its browser is gone."""
        session = self._live(session_id)
        if session is None:
            return False
        return await _run_in_session(session, action)


async def _close_lines(job: JobView, messages: list[cl.Message]) -> None:
    """Replace progress lines by the job's closing line, in the current context."""
    for message in messages:
        message.content = closing_text(job)
        message.actions = []
        await message.update()


async def _close_stale(job: JobView, messages: list[cl.Message]) -> None:
    """Rewrite earlier progress lines in the stored thread (no live session needed)."""
    if not messages:
        return

    async def run() -> None:
        init_http_context(thread_id=job.thread_id, user=cl.User(identifier=job.owner))
        await _close_lines(job, messages)

    try:
        await asyncio.create_task(run(), context=contextvars.Context())
    except Exception:  # the summary itself still reaches the thread
        log.exception("could not close the earlier progress lines of job %s", job.id)


async def _run_in_session(session: WebsocketSession, action: Callable[[], Awaitable[None]]) -> bool:
    """Run `action` in a websocket session's context; False when it failed."""

    async def run() -> None:
        init_ws_context(session)
        await action()

    # A fresh context, so the worker's own context never becomes a user's session.
    task = asyncio.create_task(run(), context=contextvars.Context())
    try:
        await task
    except Exception:
        log.exception("could not update the chat of session %s", session.id)
        return False
    return True


async def _post_to_thread(job: JobView) -> None:
    """Persist the result as an assistant message in the job's thread (no live session needed)."""

    async def run() -> None:
        init_http_context(thread_id=job.thread_id, user=cl.User(identifier=job.owner))
        await send_result(job)

    await asyncio.create_task(run(), context=contextvars.Context())


def incoming_files(message: cl.Message) -> list[IncomingFile]:
    files = []
    for element in message.elements or []:
        path = getattr(element, "path", None)
        if path:
            files.append(IncomingFile(path=Path(path), name=getattr(element, "name", None)))
    return files


async def handle_uploads(
    message: cl.Message, *, owner: str, thread_id: str, uploads: UploadService, events: ChainlitJobEvents
) -> bool:
    """Answer every file attached to `message`; True when there were files (even if all were refused)."""
    files = incoming_files(message)
    if not files:
        return False
    session_id = cl.context.session.id
    for reply in await uploads.accept_files(files, owner=owner, thread_id=thread_id):
        if not reply.accepted or reply.job_id is None:
            await cl.Message(content=reply.message, author="Confidante").send()
            continue
        await cl.Message(content=reply.message, author="Confidante").send()
        job = await run_io(uploads.store.get, reply.job_id)
        if job is not None:
            await _show_progress(job, session_id, events)
    if not (message.content or "").strip():
        await _announce_files_only_start(thread_id)
    return True


async def _announce_files_only_start(thread_id: str) -> None:
    """Chainlit announces a chat's first interaction with the message's text; for a files-only
    message that is "", and its frontend then keeps every feedback button of the chat disabled
    (the summary's too) until a reload. Announce it again with a fixed word, never the file's name,
    which may be sensitive. Sent after intake, so it lands after Chainlit's own announcement."""
    try:
        await cl.context.emitter.emit("first_interaction", {"interaction": "upload", "thread_id": thread_id})
    except Exception:  # cosmetic: never fail an upload over it
        log.warning("could not announce the upload as the chat's first interaction")


async def _show_progress(
    job: JobView, session_id: str, events: ChainlitJobEvents, earlier: Iterable[cl.Message] = ()
) -> None:
    cancel = cl.Action(
        name=CANCEL_ACTION, payload={"job_id": job.id}, label="Cancel", tooltip="Stop this summary"
    )
    message = cl.Message(
        content=progress_text(job), author="Confidante", actions=[cancel], metadata={PROGRESS_KEY: job.id}
    )
    await message.send()
    events.attach(job.id, session_id, message, earlier)


async def on_cancel_action(action: cl.Action, *, owner: str, uploads: UploadService) -> None:
    """The Cancel button: only the job's owner can cancel it (checked against the job row)."""
    job_id = str((action.payload or {}).get("job_id", ""))
    job = await uploads.cancel(job_id, owner)
    if job is None:
        await cl.Message(
            content="That summary has already finished or isn't yours to cancel.", author="Confidante"
        ).send()
        return
    await action.remove()


async def reattach_jobs(
    *, owner: str, thread_id: str, uploads: UploadService, events: ChainlitJobEvents
) -> list[Any]:
    """On resuming a thread: bind its jobs to the new session, then follow them from here.

    An unfinished job gets a fresh progress line (with Cancel); one that ended with nobody shown
    its result gets it here, live. Either way the job's earlier progress lines (from any session,
    on any replica) are closed when it ends. Returns the jobs whose news this session will show."""
    session_id = cl.context.session.id
    jobs = [
        job
        for job in await uploads.jobs_for_thread(thread_id, owner)
        if not job.finished or job.progress_label != ANNOUNCED
    ]
    if not jobs:
        return []
    earlier = await _earlier_progress_lines(thread_id)
    for job in jobs:
        if job.finished:
            events.attach(job.id, session_id, None, earlier.get(job.id, ()))
        else:
            await _show_progress(job, session_id, events, earlier.get(job.id, ()))
    uploads.follow(jobs)
    return jobs


async def _earlier_progress_lines(thread_id: str) -> dict[str, list[cl.Message]]:
    """The stored thread's progress lines per job id (empty without a data layer)."""
    data_layer = get_data_layer()
    if data_layer is None:
        return {}
    try:
        thread = await data_layer.get_thread(thread_id)
    except Exception:  # cosmetic: the job is shown either way
        log.exception("could not read the earlier progress lines of thread %s", thread_id)
        return {}
    return progress_lines((thread or {}).get("steps") or [])


def progress_lines(steps: Iterable[Mapping[str, Any]]) -> dict[str, list[cl.Message]]:
    """Progress messages among stored steps, as messages that can be updated in place."""
    found: dict[str, list[cl.Message]] = {}
    for step in steps:
        job_id = (step.get("metadata") or {}).get(PROGRESS_KEY)
        if job_id and step.get("id"):
            found.setdefault(str(job_id), []).append(cl.Message.from_dict(step))  # type: ignore[arg-type]
    return found
