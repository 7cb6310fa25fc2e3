"""Threads, steps, elements and feedback in the governance database, owner-checked on every call.

Every method takes the requester (the signed-in account name) explicitly and behaves as if an
id did not exist when it belongs to someone else: same return value, same message. Nothing here
ever hands one user's thread, step, element or feedback to another, or lets one user write into
another's thread. `assistant/ui/datalayer.py` adapts this to Chainlit's async `BaseDataLayer`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, or_
from sqlmodel import Session, col, select

from assistant.governance.tables import ChatElement, ChatFeedback, ChatStep, ChatThread, User, as_utc, utcnow
from assistant.review.table import ReviewItemRow

log = logging.getLogger(__name__)


class NotFound(LookupError):
    """The same answer for "does not exist" and "is not yours"."""

    def __init__(self, what: str = "item") -> None:
        super().__init__(f"{what} not found")


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat().replace("+00:00", "Z")


class ChatHistory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- threads ------------------------------------------------------------------------------

    def owned_thread(self, session: Session, thread_id: str, requester: str | None) -> ChatThread | None:
        thread = session.get(ChatThread, thread_id) if requester else None
        return thread if thread is not None and thread.owner == requester else None

    def thread_author(self, thread_id: str, requester: str | None) -> str:
        with Session(self._engine) as session:
            thread = self.owned_thread(session, thread_id, requester)
            return thread.owner if thread else ""

    def upsert_thread(
        self,
        thread_id: str,
        requester: str | None,
        *,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> bool:
        """Create or update a thread of the requester; False (and no change) for anyone else's."""
        if not requester:
            return False
        with Session(self._engine) as session:
            thread = session.get(ChatThread, thread_id)
            if thread is None:
                thread = ChatThread(id=thread_id, owner=requester)
            elif thread.owner != requester:
                log.warning("refused a write by %r to a thread they do not own", requester)
                return False
            if name is not None:
                thread.name = name[:500]
            if metadata is not None:
                merged = {**(thread.meta or {}), **metadata}
                thread.meta = {key: value for key, value in merged.items() if value is not None}
            if tags is not None:
                thread.tags = list(tags)
            thread.updated_at = utcnow()
            session.add(thread)
            session.commit()
            return True

    def get_thread(self, thread_id: str, requester: str | None) -> dict[str, Any] | None:
        with Session(self._engine) as session:
            thread = self.owned_thread(session, thread_id, requester)
            if thread is None:
                return None
            steps = session.exec(
                select(ChatStep).where(ChatStep.thread_id == thread_id).order_by(col(ChatStep.created_at))
            ).all()
            feedback = {
                row.step_id: row
                for row in session.exec(select(ChatFeedback).where(ChatFeedback.thread_id == thread_id))
            }
            elements = session.exec(select(ChatElement).where(ChatElement.thread_id == thread_id)).all()
            data = self._thread_dict(session, thread)
            data["steps"] = [self._step_dict(step, feedback.get(step.id)) for step in steps]
            data["elements"] = [dict(element.body) for element in elements]
            return data

    def _thread_dict(self, session: Session, thread: ChatThread) -> dict[str, Any]:
        user_id = session.exec(select(User.id).where(User.username == thread.owner)).first()
        return {
            "id": thread.id,
            "createdAt": _iso(thread.created_at),
            "name": thread.name,
            "userId": user_id,
            "userIdentifier": thread.owner,
            "tags": thread.tags,
            "metadata": thread.meta or {},
            "steps": [],
            "elements": [],
        }

    @staticmethod
    def _step_dict(step: ChatStep, feedback: ChatFeedback | None) -> dict[str, Any]:
        data = dict(step.body)
        if feedback is not None:
            data["feedback"] = {
                "id": feedback.id, "forId": step.id, "value": feedback.value, "comment": feedback.comment,
            }  # fmt: skip
        return data

    def delete_thread(self, thread_id: str, requester: str | None) -> list[str]:
        """Delete the requester's thread; returns the object keys of its files (to delete from storage)."""
        with Session(self._engine) as session:
            thread = self.owned_thread(session, thread_id, requester)
            if thread is None:
                return []
            keys = [
                key
                for key in session.exec(
                    select(ChatElement.object_key).where(ChatElement.thread_id == thread_id)
                )
                if key
            ]
            # Sampled answers of this chat wait for review with their text: they go with it.
            session.exec(delete(ReviewItemRow).where(col(ReviewItemRow.thread_id) == thread_id))  # type: ignore[call-overload]
            session.delete(thread)
            session.commit()
            return keys

    def list_threads(
        self,
        requester: str | None,
        *,
        first: int,
        cursor: str | None,
        search: str | None,
        feedback: int | None,
    ) -> tuple[list[dict[str, Any]], bool]:
        if not requester:
            return [], False
        with Session(self._engine) as session:
            query = select(ChatThread).where(ChatThread.owner == requester)
            if search:
                query = query.where(col(ChatThread.name).ilike(f"%{search}%"))
            if feedback is not None:
                rated = select(ChatFeedback.thread_id).where(ChatFeedback.value == feedback)
                query = query.where(col(ChatThread.id).in_(rated))
            anchor = self.owned_thread(session, cursor, requester) if cursor else None
            if anchor is not None:
                query = query.where(
                    or_(
                        col(ChatThread.updated_at) < anchor.updated_at,
                        and_(col(ChatThread.updated_at) == anchor.updated_at, col(ChatThread.id) < anchor.id),
                    )
                )
            query = query.order_by(col(ChatThread.updated_at).desc(), col(ChatThread.id).desc()).limit(
                first + 1
            )
            threads = session.exec(query).all()
            page = [self._thread_dict(session, thread) for thread in threads[:first]]
            return page, len(threads) > first

    # --- steps ----------------------------------------------------------------------------------

    def upsert_step(self, step: dict[str, Any], requester: str | None) -> bool:
        thread_id = step.get("threadId")
        if not thread_id or not step.get("id"):
            return False
        # A step may arrive before its thread row: create it for the requester (never for others).
        if not self.upsert_thread(thread_id, requester):
            return False
        body = {key: value for key, value in step.items() if key != "feedback"}
        with Session(self._engine) as session:
            row = session.get(ChatStep, step["id"])
            if row is not None and row.thread_id != thread_id:
                return False  # a step id from another thread: never move or overwrite it
            if row is None:
                row = ChatStep(
                    id=step["id"],
                    thread_id=thread_id,
                    created_at=str(step.get("createdAt") or _iso(utcnow())),
                )
            row.parent_id = step.get("parentId")
            row.type = str(step.get("type") or "")
            row.body = {**(row.body or {}), **body}
            session.add(row)
            session.commit()
            return True

    def delete_step(self, step_id: str, requester: str | None) -> bool:
        with Session(self._engine) as session:
            row = session.get(ChatStep, step_id)
            if row is None or self.owned_thread(session, row.thread_id, requester) is None:
                return False
            session.delete(row)
            session.commit()
            return True

    def favorite_steps(self, requester: str | None) -> list[dict[str, Any]]:
        if not requester:
            return []
        with Session(self._engine) as session:
            rows = session.exec(
                select(ChatStep)
                .join(ChatThread, col(ChatThread.id) == col(ChatStep.thread_id))
                .where(ChatThread.owner == requester)
            ).all()
            return [dict(row.body) for row in rows if (row.body.get("metadata") or {}).get("favorite")]

    # --- elements -------------------------------------------------------------------------------

    def add_element(self, element: dict[str, Any], requester: str | None, object_key: str | None) -> bool:
        thread_id = element.get("threadId")
        if not thread_id or not self.upsert_thread(thread_id, requester):
            return False
        with Session(self._engine) as session:
            existing = session.get(ChatElement, element["id"])
            if existing is not None and existing.thread_id != thread_id:
                return False
            row = existing or ChatElement(id=element["id"], thread_id=thread_id)
            row.for_id, row.object_key, row.mime = element.get("forId"), object_key, element.get("mime")
            row.body = {key: value for key, value in element.items() if key != "path"}
            session.add(row)
            session.commit()
            return True

    def get_element(self, thread_id: str, element_id: str, requester: str | None) -> ChatElement | None:
        with Session(self._engine) as session:
            row = session.get(ChatElement, element_id)
            if row is None or row.thread_id != thread_id:
                return None
            return row if self.owned_thread(session, thread_id, requester) else None

    def element_for_download(self, element_id: str, requester: str | None) -> ChatElement | None:
        with Session(self._engine) as session:
            row = session.get(ChatElement, element_id)
            if row is None or self.owned_thread(session, row.thread_id, requester) is None:
                return None
            return row

    def delete_element(self, element_id: str, requester: str | None) -> str | None:
        """Delete the requester's element; returns its object key (or None)."""
        with Session(self._engine) as session:
            row = session.get(ChatElement, element_id)
            if row is None or self.owned_thread(session, row.thread_id, requester) is None:
                return None
            key = row.object_key
            session.delete(row)
            session.commit()
            return key

    # --- feedback -------------------------------------------------------------------------------

    def upsert_feedback(
        self, *, step_id: str, value: int, comment: str | None, requester: str | None, feedback_id: str | None
    ) -> str:
        if value not in (0, 1):
            raise ValueError("feedback value must be 0 or 1")
        with Session(self._engine) as session:
            step = session.get(ChatStep, step_id)
            if step is None or self.owned_thread(session, step.thread_id, requester) is None:
                raise NotFound("message")
            row = session.exec(select(ChatFeedback).where(ChatFeedback.step_id == step_id)).first()
            if row is None:
                row = ChatFeedback(
                    step_id=step_id, thread_id=step.thread_id, owner=requester or "", value=value
                )
            row.value, row.comment, row.created_at = value, (comment or None), utcnow()
            session.add(row)
            session.commit()
            return row.id

    def delete_feedback(self, feedback_id: str, requester: str | None) -> bool:
        with Session(self._engine) as session:
            row = session.get(ChatFeedback, feedback_id)
            if row is None or self.owned_thread(session, row.thread_id, requester) is None:
                return False
            session.delete(row)
            session.commit()
            return True

    def feedback_for(self, step_id: str, requester: str | None) -> ChatFeedback | None:
        with Session(self._engine) as session:
            row = session.exec(select(ChatFeedback).where(ChatFeedback.step_id == step_id)).first()
            if row is None or self.owned_thread(session, row.thread_id, requester) is None:
                return None
            return row
