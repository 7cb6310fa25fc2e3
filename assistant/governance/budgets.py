"""Per-user daily token and cost budgets (UTC days), with admin overrides per user.

The pipeline calls `check(principal)` before a turn and `charge(principal, tokens, cost)` after
it. A token budget of 0 means "no use", never "unlimited"; a cost budget of 0 allows only free
(local) use. This module decides and counts; it
never talks to a model, and never lets a failed read count as "within budget".

`check` is on the path to every answer's first word, so it is one prepared statement (the day's
usage and the user's override together). It reads the database every time and keeps no copy of
anyone's spend: with several replicas charging the same user, each check sees every commit made
before it, exactly as two separate reads did.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BindParameter, Engine, String, bindparam, exists, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from assistant.governance.settings import BudgetSettings
from assistant.governance.tables import BudgetOverride, DailyUsage, utcnow
from assistant.identity import Principal


class BudgetLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    daily_tokens: int
    daily_cost_usd: float
    overridden: bool = False


class BudgetStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    allowed: bool
    day: str
    tokens_used: int
    tokens_limit: int
    cost_used_usd: float
    cost_limit_usd: float
    reason: str | None = None

    @property
    def message(self) -> str:
        """What the user is told when a turn is refused."""
        if self.allowed:
            return ""
        return (
            f"You have reached your daily {self.reason} budget "
            f"({self.tokens_used:,}/{self.tokens_limit:,} tokens, "
            f"${self.cost_used_usd:.2f}/${self.cost_limit_usd:.2f}). "
            "It resets at midnight UTC; an administrator can raise it."
        )


def utc_day(now: datetime | None = None) -> str:
    return (now or utcnow()).astimezone(UTC).strftime("%Y-%m-%d")


_USER: BindParameter[str] = bindparam("user_id", type_=String)
_DAY: BindParameter[str] = bindparam("day", type_=String)
_TODAY = (col(DailyUsage.user_id) == _USER, col(DailyUsage.day) == _DAY)
_OVERRIDE = col(BudgetOverride.user_id) == _USER
# The day's usage and the user's override in one round trip, built once (building a statement
# cost more than running it). A user with no row for the day or no override reads NULL there.
_STATUS_READ = sa_select(
    sa_select(col(DailyUsage.tokens)).where(*_TODAY).scalar_subquery(),
    sa_select(col(DailyUsage.cost_usd)).where(*_TODAY).scalar_subquery(),
    exists().where(_OVERRIDE),
    sa_select(col(BudgetOverride.daily_tokens)).where(_OVERRIDE).scalar_subquery(),
    sa_select(col(BudgetOverride.daily_cost_usd)).where(_OVERRIDE).scalar_subquery(),
)


class Budgets:
    def __init__(self, engine: Engine, settings: BudgetSettings | None = None) -> None:
        self._engine = engine
        self._settings = settings or BudgetSettings()

    def limits(self, user_id: str) -> BudgetLimits:
        with Session(self._engine) as session:
            override = session.get(BudgetOverride, user_id)
        if override is None:
            return self._limits(overridden=False)
        return self._limits(overridden=True, tokens=override.daily_tokens, cost=override.daily_cost_usd)

    def _limits(
        self, *, overridden: bool, tokens: int | None = None, cost: float | None = None
    ) -> BudgetLimits:
        """The user's limits: an override's set fields, the settings' defaults for the rest."""
        return BudgetLimits(
            daily_tokens=tokens if tokens is not None else self._settings.daily_tokens,
            daily_cost_usd=cost if cost is not None else self._settings.daily_cost_usd,
            overridden=overridden,
        )

    def check(self, principal: Principal, now: datetime | None = None) -> BudgetStatus:
        day = utc_day(now)
        with self._engine.connect() as connection:
            row = connection.execute(_STATUS_READ, {"user_id": principal.user_id, "day": day}).one()
        used_tokens, used_cost, overridden, override_tokens, override_cost = row
        limits = self._limits(overridden=bool(overridden), tokens=override_tokens, cost=override_cost)
        tokens, cost = (used_tokens or 0), (used_cost or 0.0)
        reason = None
        if tokens >= limits.daily_tokens:
            reason = "token"
        elif cost > 0 and cost >= limits.daily_cost_usd:
            reason = "cost"
        return BudgetStatus(
            allowed=reason is None,
            day=day,
            tokens_used=tokens,
            tokens_limit=limits.daily_tokens,
            cost_used_usd=cost,
            cost_limit_usd=limits.daily_cost_usd,
            reason=reason,
        )

    def charge(self, principal: Principal, tokens: int, cost_usd: float, now: datetime | None = None) -> None:
        """Add a turn's usage to today's counters (atomic increment; safe from several workers)."""
        if tokens < 0 or cost_usd < 0:
            raise ValueError("usage cannot be negative")
        day = utc_day(now)
        for _attempt in range(3):
            with Session(self._engine) as session:
                result = session.execute(
                    update(DailyUsage)
                    .where(col(DailyUsage.user_id) == principal.user_id, col(DailyUsage.day) == day)
                    .values(tokens=DailyUsage.tokens + tokens, cost_usd=DailyUsage.cost_usd + cost_usd)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    session.commit()
                    return
                session.add(DailyUsage(user_id=principal.user_id, day=day, tokens=tokens, cost_usd=cost_usd))
                try:
                    session.commit()
                    return
                except IntegrityError:  # another worker inserted today's row first: increment it
                    session.rollback()
        raise RuntimeError("could not record usage after 3 attempts")

    def set_override(
        self, *, user_id: str, daily_tokens: int | None, daily_cost_usd: float | None, set_by: str
    ) -> BudgetLimits:
        if (daily_tokens is not None and daily_tokens < 0) or (
            daily_cost_usd is not None and daily_cost_usd < 0
        ):
            raise ValueError("budgets cannot be negative")
        with Session(self._engine) as session:
            row = session.get(BudgetOverride, user_id) or BudgetOverride(user_id=user_id, set_by=set_by)
            row.daily_tokens, row.daily_cost_usd = daily_tokens, daily_cost_usd
            row.set_by, row.set_at = set_by, utcnow()
            session.add(row)
            session.commit()
        return self.limits(user_id)

    def clear_override(self, *, user_id: str) -> BudgetLimits:
        with Session(self._engine) as session:
            row = session.get(BudgetOverride, user_id)
            if row is not None:
                session.delete(row)
                session.commit()
        return self.limits(user_id)
