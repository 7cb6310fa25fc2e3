"""The review queue: offer sampled turns, list what a reviewer may grade, record grades.

Visibility is decided here and nowhere else: a regulated turn is listed to, and gradable by, only
members of the groups the privacy policy in force names (`[review] regulated_reviewer_groups`,
narrowed by the settings; admins included only when they are members); any other turn by admins
and members of `reviewer_groups`. The groups are read from the policy on every request, so an
edit of the policy file applies at once; if the policy cannot be read, nobody sees regulated
items (fail closed). An item a reviewer may not see is answered exactly like one that does not
exist, so its existence does not leak either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import cast

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assistant.governance.tables import utcnow
from assistant.review.models import (
    GRADES,
    Grade,
    ReviewAccess,
    ReviewCandidate,
    ReviewItem,
    ReviewSettings,
    Tier,
)
from assistant.review.sampling import sampled
from assistant.review.table import ReviewItemRow
from knowledge.access import Principal
from routing.policy import Policy, load_policy

log = logging.getLogger(__name__)


class ReviewError(Exception):
    """No such item for this reviewer, already graded, or not a grade."""


def may_review(principal: Principal, access: ReviewAccess) -> bool:
    return principal.is_admin or bool(principal.groups & (access.reviewer_groups | access.regulated_groups))


def may_see(principal: Principal, tier: str, access: ReviewAccess) -> bool:
    if tier == "regulated":
        return bool(principal.groups & access.regulated_groups)
    return may_review(principal, access)


@cache
def _built_in_policy() -> Policy:
    return load_policy()


class ReviewQueue:
    """`policy` returns the policy in force (the app passes its hot-reloaded source); without it,
    the built-in default policy."""

    def __init__(
        self,
        engine: Engine,
        settings: ReviewSettings | None = None,
        *,
        policy: Callable[[], Policy] | None = None,
    ) -> None:
        self._engine = engine
        self.settings = settings or ReviewSettings()
        self._policy = policy or _built_in_policy

    def access(self) -> ReviewAccess:
        """Who may review and who may read regulated answers, under the policy in force now."""
        try:
            groups: tuple[str, ...] = self._policy().review.regulated_reviewer_groups
        except Exception:  # no readable policy: nobody reads regulated answers
            log.exception("review queue: policy unavailable, regulated items hidden from everyone")
            groups = ()
        return self.settings.access(groups)

    def offer(self, candidate: ReviewCandidate) -> ReviewItem | None:
        """Queue the turn when the capability's share samples it; None when not sampled."""
        if not sampled(candidate.turn_id, self.settings.share_for(candidate.capability)):
            return None
        row = ReviewItemRow(**candidate.model_dump())
        with Session(self._engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # offered twice (a retry): the first one stands
                session.rollback()
                existing = session.exec(
                    select(ReviewItemRow).where(ReviewItemRow.turn_id == candidate.turn_id)
                ).one()
                return _item(existing)
            session.refresh(row)
            return _item(row)

    def pending_for(self, principal: Principal, *, limit: int = 50) -> list[ReviewItem]:
        """Ungraded items this reviewer may see, oldest first."""
        access = self.access()
        if not may_review(principal, access):
            return []
        query = select(ReviewItemRow).where(col(ReviewItemRow.grade).is_(None))
        if not may_see(principal, "regulated", access):
            query = query.where(ReviewItemRow.tier != "regulated")
        query = query.order_by(col(ReviewItemRow.id)).limit(limit)
        with Session(self._engine) as session:
            return [_item(row) for row in session.exec(query)]

    def graded_for(self, principal: Principal, *, limit: int = 20) -> list[ReviewItem]:
        """The latest graded items this reviewer may see, newest first."""
        access = self.access()
        if not may_review(principal, access):
            return []
        query = select(ReviewItemRow).where(col(ReviewItemRow.grade).is_not(None))
        if not may_see(principal, "regulated", access):
            query = query.where(ReviewItemRow.tier != "regulated")
        query = query.order_by(col(ReviewItemRow.graded_at).desc()).limit(limit)
        with Session(self._engine) as session:
            return [_item(row) for row in session.exec(query)]

    def grade(self, item_id: int, principal: Principal, grade: str, note: str = "") -> ReviewItem:
        if grade not in GRADES:
            raise ReviewError("A grade is correct, partly or wrong.")
        with Session(self._engine) as session:
            row = session.get(ReviewItemRow, item_id)
            if row is None or not may_see(principal, row.tier, self.access()):
                raise ReviewError("No such review item.")
            if row.grade is not None:
                raise ReviewError("This answer has been graded already.")
            row.grade, row.note = grade, note.strip()[:2000] or None
            row.graded_by, row.graded_at = principal.user_id, utcnow()
            session.add(row)
            session.commit()
            session.refresh(row)
            return _item(row)

    def forget_thread(self, thread_id: str) -> int:
        """Delete the items of a deleted chat (their text goes with it); grades already counted go too."""
        with Session(self._engine) as session:
            rows = session.exec(select(ReviewItemRow).where(ReviewItemRow.thread_id == thread_id)).all()
            for row in rows:
                session.delete(row)
            session.commit()
            return len(rows)


def _item(row: ReviewItemRow) -> ReviewItem:
    assert row.id is not None
    return ReviewItem(
        id=row.id,
        turn_id=row.turn_id,
        capability=row.capability,
        tier=cast(Tier, row.tier),
        user_id=row.user_id,
        thread_id=row.thread_id,
        experiment_id=row.experiment_id,
        variant=row.variant,
        question=row.question,
        answer=row.answer,
        created_at=row.created_at,
        grade=cast(Grade | None, row.grade),
        note=row.note,
        graded_by=row.graded_by,
    )
