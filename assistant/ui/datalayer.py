"""Chainlit's data layer on the governance database: chat history users can resume, owner-only.

Why our own `BaseDataLayer` rather than Chainlit's `SQLAlchemyDataLayer`: that one trusts its
callers completely (its `update_thread` upserts whatever thread id a websocket client names, its
`get_thread` returns anyone's thread, feedback is written for any step id) and needs async drivers
and hand-made tables. Ours stores everything in Alembic-managed tables, runs the synchronous engine
the rest of governance uses in a worker thread, and checks the requester (see `governance/requester.py`) on
every read and write, answering exactly as for a missing id when the thread is someone else's.
It never fetches element URLs (no network) and never stores a client-supplied path.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainlit.data.base import BaseDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.types import Feedback, PageInfo, PaginatedResponse, Pagination, ThreadDict, ThreadFilter
from chainlit.user import PersistedUser, User

from assistant.executors import run_interactive, run_io
from assistant.governance.accounts import Accounts
from assistant.governance.chat_history import ChatHistory
from assistant.governance.file_store import LocalFileStorage
from assistant.governance.requester import current_requester
from assistant.titles import neutral_title

if TYPE_CHECKING:
    from chainlit.element import Element, ElementDict
    from chainlit.step import StepDict

    from assistant.governance.component import Governance

log = logging.getLogger(__name__)


def persisted_user(accounts: Accounts, identifier: str) -> PersistedUser | None:
    user = accounts.get_user(username=identifier)
    if user is None or user.disabled:
        return None
    return PersistedUser(
        id=user.id,
        identifier=user.username,
        display_name=user.display_name,
        metadata={"role": user.role, "groups": list(user.groups)},
        createdAt=user.created_at.isoformat(),
    )


def data_layer_for(governance: Governance) -> ConfidanteDataLayer:
    """The data layer on this governance database: its chat history, accounts and file store."""
    storage = LocalFileStorage(governance.files_dir)
    return ConfidanteDataLayer(governance.history, governance.accounts, storage)


class ConfidanteDataLayer(BaseDataLayer):
    def __init__(self, history: ChatHistory, accounts: Accounts, storage: LocalFileStorage) -> None:
        self.history = history
        self.accounts = accounts
        self.storage = storage
        # Chainlit fires a new chat's first writes concurrently (the thread's name, the user message,
        # the answer); each may create the thread row, and two inserts of one id made the loser fail
        # (its step was lost). Writes that can create a thread row run one at a time.
        self._thread_writes = asyncio.Lock()
        # First message → sidebar title through the gate (`assistant.titles.gated_titles`); the app
        # sets it. None keeps names as given (unit tests of this layer).
        self.title_for: Any = None

    async def _write(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self._thread_writes:
            return await run_io(fn, *args, **kwargs)

    # --- users: accounts are created by admins or SSO, never by the data layer ----------------------

    async def get_user(self, identifier: str) -> PersistedUser | None:
        return await run_io(persisted_user, self.accounts, identifier)

    async def create_user(self, user: User) -> PersistedUser | None:
        return await self.get_user(user.identifier)

    # --- threads ------------------------------------------------------------------------------

    async def get_thread_author(self, thread_id: str) -> str:
        # "" for someone else's thread too, so Chainlit answers 404 exactly as for a missing id.
        return await run_io(self.history.thread_author, thread_id, current_requester())

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        thread = await run_io(self.history.get_thread, thread_id, current_requester())
        return thread  # type: ignore[return-value]

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict | None = None,
        tags: list[str] | None = None,
    ) -> None:
        # user_id is ignored on purpose: the owner is always the requester, never a caller's claim.
        if name is not None and self.title_for is not None:
            given: str = name
            try:
                name = await run_interactive(self.title_for, given)
            except Exception:  # no gate yet: a neutral title, never the message itself
                name = neutral_title(given)
        await self._write(
            self.history.upsert_thread,
            thread_id,
            current_requester(),
            name=name,
            metadata=metadata,
            tags=tags,
        )

    async def delete_thread(self, thread_id: str) -> None:
        keys = await run_io(self.history.delete_thread, thread_id, current_requester())
        for key in keys:
            await self.storage.delete_file(key)

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        requester = current_requester()
        owner = await self._username_for(filters.userId) if filters.userId else requester
        if owner is None or owner != requester:
            page: list[dict[str, Any]] = []
            more = False
        else:
            page, more = await run_io(
                self.history.list_threads,
                requester,
                first=max(1, min(pagination.first, 100)),
                cursor=pagination.cursor,
                search=filters.search,
                feedback=filters.feedback,
            )
        return PaginatedResponse(
            pageInfo=PageInfo(
                hasNextPage=more,
                startCursor=page[0]["id"] if page else None,
                endCursor=page[-1]["id"] if page else None,
            ),
            data=page,  # type: ignore[arg-type]
        )

    async def _username_for(self, user_id: str) -> str | None:
        users = await run_io(self.accounts.list_users)
        return next((user.username for user in users if user.id == user_id or user.username == user_id), None)

    # --- steps ----------------------------------------------------------------------------------

    @queue_until_user_message()
    async def create_step(self, step_dict: StepDict) -> None:
        await self._write(self.history.upsert_step, dict(step_dict), current_requester())

    @queue_until_user_message()
    async def update_step(self, step_dict: StepDict) -> None:
        await self._write(self.history.upsert_step, dict(step_dict), current_requester())

    @queue_until_user_message()
    async def delete_step(self, step_id: str) -> None:
        await run_io(self.history.delete_step, step_id, current_requester())

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        steps: list[Any] = await run_io(self.history.favorite_steps, current_requester())
        return steps

    # --- elements -------------------------------------------------------------------------------

    @queue_until_user_message()
    async def create_element(self, element: Element) -> None:
        requester = current_requester()
        if not requester:
            return
        content = await _element_content(element)
        object_key = None
        data = element.to_dict()
        if content is not None:
            object_key = f"{requester}/{element.id}"
            stored = await self.storage.upload_file(
                object_key, content, mime=element.mime or "application/octet-stream"
            )
            data["url"], data["objectKey"] = stored["url"], object_key
        if not await self._write(self.history.add_element, dict(data), requester, object_key) and object_key:
            await self.storage.delete_file(object_key)

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        row = await run_io(self.history.get_element, thread_id, element_id, current_requester())
        return dict(row.body) if row else None  # type: ignore[return-value]

    @queue_until_user_message()
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        key = await run_io(self.history.delete_element, element_id, current_requester())
        if key:
            await self.storage.delete_file(key)

    # --- feedback -------------------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        return await run_io(
            self.history.upsert_feedback,
            step_id=feedback.forId,
            value=int(feedback.value),
            comment=feedback.comment,
            requester=current_requester(),
            feedback_id=feedback.id,
        )

    async def delete_feedback(self, feedback_id: str) -> bool:
        return await run_io(self.history.delete_feedback, feedback_id, current_requester())

    # --- misc -----------------------------------------------------------------------------------

    async def build_debug_url(self) -> str:
        return ""

    async def close(self) -> None:
        return None


async def _element_content(element: Element) -> bytes | None:
    """The bytes to store: from a server-side path Chainlit wrote, or inline content. URLs are not fetched."""
    if element.content is not None:
        return element.content.encode("utf-8") if isinstance(element.content, str) else element.content
    if element.path:
        return await run_io(Path(element.path).read_bytes)
    return None
