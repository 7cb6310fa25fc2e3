"""Experiments in the database: define, list, stop; the running variant of a user; turn facts.

One running experiment per capability at a time, so a turn's variant is never ambiguous. A turn's
facts are numbers and flags only (no message text). Thumbs are joined from the chat's own
feedback table: feedback on an answer belongs to the last turn of its thread that started at or
before the answer message was created (Chainlit stamps a message when it is first sent, which is
during or right after its turn, and the next turn starts only after the user writes again).
A tools experiment's turns are joined the same way to the audit trail's `tool_loop` records (how
many tools were called, whether a limit stopped the loop): each is written inside its turn.

A turn's variant look-up is on the path to the answer's first word, so it is one small query
(the running experiments' ids, never cached: a stop applies on the next turn, in every process)
and the experiment's definition, which never changes once stored, is parsed once per process.
It must never answer a turn from anything but the database's current running set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.experiments.assignment import assign
from assistant.experiments.metrics import TurnFacts
from assistant.experiments.models import Capability, Experiment, ExperimentSpec, TurnVariant, Variant
from assistant.governance.tables import (
    AuditRow,
    ChatFeedback,
    ChatStep,
    ExperimentRow,
    ExperimentTurnRow,
    as_utc,
    utcnow,
)

# Built once: building a statement cost more than running it (142 vs 42 µs a look-up, SQLite).
# Every running experiment, newest first; a turn keeps those of its capabilities. Few run at a
# time, and a statement without an expanding IN is compiled once, not rendered again on every
# turn (SQLAlchemy re-renders an expanding parameter's SQL per execution: ~0.1 ms of each turn's
# first token, issue 15).
_RUNNING_IDS = (
    select(col(ExperimentRow.id), col(ExperimentRow.created_at), col(ExperimentRow.capability))
    .where(ExperimentRow.status == "running")
    .order_by(col(ExperimentRow.created_at).desc())
)
# How long after its turn ends an answer message may be stamped (the UI sends it at the end).
MESSAGE_SLACK = timedelta(seconds=30)
# Tool-loop endings that mean a limit stopped it (assistant/tools/records.py `Termination`).
LIMIT_TERMINATIONS = frozenset({"max_steps", "wall_time", "token_budget", "repeated_call"})
ToolFacts = tuple[int, bool | None]  # tool calls; stopped by a limit (None: no loop ran)
NO_LOOP: ToolFacts = (0, None)


class ExperimentError(ValueError):
    """A request the store refuses, with the sentence to show the admin."""


class ExperimentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Definitions by (id, created_at): what `create` stored never changes afterwards (a stop
        # only changes the status, which the look-up query reads fresh every time); an experiment
        # deleted and defined again under the same id has another created_at.
        self._definitions: dict[tuple[str, str], Experiment] = {}

    def create(self, spec: ExperimentSpec, *, created_by: str) -> Experiment:
        with Session(self._engine) as session:
            if session.get(ExperimentRow, spec.id) is not None:
                raise ExperimentError(f"An experiment named {spec.id!r} already exists.")
            if _running(session, spec.capability) is not None:
                raise ExperimentError(f"Stop the running {spec.capability} experiment first.")
            row = ExperimentRow(
                id=spec.id,
                capability=spec.capability,
                description=spec.description,
                variants=[v.model_dump() for v in spec.variants],
                created_by=created_by,
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            return _experiment(row)

    def experiments(self) -> list[Experiment]:
        with Session(self._engine) as session:
            rows = session.exec(select(ExperimentRow).order_by(col(ExperimentRow.created_at).desc())).all()
            return [_experiment(row) for row in rows]

    def get(self, experiment_id: str) -> Experiment | None:
        with Session(self._engine) as session:
            row = session.get(ExperimentRow, experiment_id)
            return _experiment(row) if row is not None else None

    def stop(self, experiment_id: str, *, by: str) -> Experiment:
        with Session(self._engine) as session:
            row = session.get(ExperimentRow, experiment_id)
            if row is None:
                raise ExperimentError(f"No experiment named {experiment_id!r}.")
            if row.status != "stopped":
                row.status, row.stopped_at, row.stopped_by = "stopped", utcnow(), by
                session.add(row)
                session.commit()
                session.refresh(row)
            return _experiment(row)

    def running(self, capability: Capability) -> Experiment | None:
        with Session(self._engine) as session:
            row = _running(session, capability)
            return _experiment(row) if row is not None else None

    def variant_for(self, user_id: str, capability: Capability) -> TurnVariant | None:
        """The user's sticky variant of the running experiment on `capability`, if any."""
        return self.variants_for(user_id, (capability,))[capability]

    def variants_for(
        self, user_id: str, capabilities: Iterable[Capability]
    ) -> dict[Capability, TurnVariant | None]:
        """The user's variant on each capability, from one query (a turn that needs its chat and
        its tools variant asks once). The newest running experiment of a capability wins, as in
        `running`."""
        wanted = tuple(dict.fromkeys(capabilities))
        chosen: dict[Capability, TurnVariant | None] = dict.fromkeys(wanted)
        for experiment in self._running_definitions(wanted):
            if chosen[experiment.capability] is None:
                variant = assign(experiment, user_id)
                chosen[experiment.capability] = TurnVariant(experiment_id=experiment.id, variant=variant)
        return chosen

    def _running_definitions(self, capabilities: Sequence[str]) -> list[Experiment]:
        """The running experiments on `capabilities`, newest first: ids read now, definitions
        parsed once (only the columns a definition needs; no ORM objects on the first-token path)."""
        with self._engine.connect() as connection:
            rows = connection.execute(_RUNNING_IDS)
            keys = [(row.id, str(row.created_at)) for row in rows if row.capability in capabilities]
        found = (self._definition(key) for key in keys)
        return [experiment for experiment in found if experiment is not None]

    def _definition(self, key: tuple[str, str]) -> Experiment | None:
        known = self._definitions.get(key)
        if known is not None:
            return known
        with Session(self._engine) as session:
            row = session.get(ExperimentRow, key[0])
            experiment = _experiment(row) if row is not None else None  # None: deleted meanwhile
        if experiment is not None:
            self._definitions[key] = experiment
        return experiment

    def record_turn(self, row: ExperimentTurnRow) -> None:
        with Session(self._engine) as session:
            session.add(row)
            session.commit()

    def turn_facts(self, experiment_id: str, *, replay: bool = False) -> list[TurnFacts]:
        """Every recorded turn of the experiment (live or replayed), with thumbs joined."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(ExperimentTurnRow)
                .where(ExperimentTurnRow.experiment_id == experiment_id, ExperimentTurnRow.replay == replay)
                .order_by(col(ExperimentTurnRow.started_at))
            ).all()
            thumbs = _thumbs_by_turn(session, rows)
            experiment = session.get(ExperimentRow, experiment_id)
            if experiment is None or experiment.capability != "tools":
                return [facts_of(row, thumbs.get(row.id)) for row in rows]
            loops = _tool_loops_by_turn(session, rows)
            return [facts_of(row, thumbs.get(row.id), loops.get(row.id, NO_LOOP)) for row in rows]


def _running(session: Session, capability: str) -> ExperimentRow | None:
    query = select(ExperimentRow).where(
        ExperimentRow.capability == capability, ExperimentRow.status == "running"
    )
    return session.exec(query.order_by(col(ExperimentRow.created_at).desc())).first()


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment(
        id=row.id,
        capability=row.capability,  # type: ignore[arg-type]
        description=row.description,
        variants=tuple(Variant.model_validate(v) for v in row.variants),
        status=row.status,  # type: ignore[arg-type]
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        stopped_at=as_utc(row.stopped_at) if row.stopped_at else None,
    )


def _thumbs_by_turn(session: Session, rows: Sequence[ExperimentTurnRow]) -> dict[int | None, int]:
    by_thread: dict[str, list[ExperimentTurnRow]] = defaultdict(list)
    for row in rows:
        by_thread[row.thread_id].append(row)
    if not rows:
        return {}
    threads = select(ExperimentTurnRow.thread_id).where(
        ExperimentTurnRow.experiment_id == rows[0].experiment_id, ExperimentTurnRow.replay == rows[0].replay
    )
    feedback = session.exec(
        select(ChatFeedback.value, ChatStep.created_at, ChatFeedback.thread_id)
        .join(ChatStep, col(ChatStep.id) == col(ChatFeedback.step_id))
        .where(col(ChatFeedback.thread_id).in_(threads))
    ).all()
    thumbs: dict[int | None, int] = {}
    for value, step_created, thread_id in feedback:
        turn = _turn_of_message(by_thread[thread_id], _parse_time(step_created))
        if turn is not None:
            thumbs[turn.id] = int(value)
    return thumbs


def _tool_loops_by_turn(session: Session, rows: Sequence[ExperimentTurnRow]) -> dict[int | None, ToolFacts]:
    """{turn id: (tool calls, stopped by a limit)} from the `tool_loop` audit records of the turns'
    threads; a turn with no loop is absent. A thread's turns run one at a time and each loop is
    recorded before its turn ends, so a record belongs to the first turn of its thread that ended
    at or after it (not to a span computed from the turn's latency, which may leave out queueing)."""
    by_thread: dict[str, list[ExperimentTurnRow]] = defaultdict(list)
    for row in rows:
        by_thread[row.thread_id].append(row)
    records = session.exec(
        select(AuditRow.thread_id, AuditRow.occurred_at, AuditRow.detail).where(
            AuditRow.kind == "tool_loop", col(AuditRow.thread_id).in_(list(by_thread))
        )
    ).all()
    facts: dict[int | None, ToolFacts] = {}
    for thread_id, occurred, detail in records:
        moment = as_utc(occurred)
        turns = sorted(by_thread[thread_id or ""], key=lambda t: as_utc(t.ended_at))
        turn = next((t for t in turns if moment <= as_utc(t.ended_at)), None)
        if turn is not None:
            calls, limited = facts.get(turn.id, (0, False))
            limited = bool(limited)
            fields = dict(part.strip().partition("=")[::2] for part in (detail or "").split(";"))
            calls += int(fields.get("calls", "0") or 0)
            facts[turn.id] = (calls, limited or fields.get("termination") in LIMIT_TERMINATIONS)
    return facts


def _turn_of_message(
    turns: Sequence[ExperimentTurnRow], created: datetime | None
) -> ExperimentTurnRow | None:
    """The turn whose answer message this is: the last one started before the message was stamped,
    if it ended no more than `MESSAGE_SLACK` before (a later, unrecorded turn's answer is no one's)."""
    if created is None:
        return None
    earlier = [turn for turn in turns if as_utc(turn.started_at) <= created]
    if not earlier or created > as_utc(earlier[-1].ended_at) + MESSAGE_SLACK:
        return None
    return earlier[-1]


def _parse_time(text: str) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def facts_of(row: ExperimentTurnRow, thumbs: int | None = None, tools: ToolFacts | None = None) -> TurnFacts:
    return TurnFacts(
        variant=row.variant,
        thread_id=row.thread_id,
        started_at=as_utc(row.started_at),
        outcome=row.outcome,
        escalated=row.escalated,
        corrects_previous=row.corrects_previous,
        unsupported_sentences=row.unsupported_sentences,
        latency_ms=row.latency_ms,
        cost_usd=row.cost_usd,
        tokens=row.prompt_tokens + row.completion_tokens,
        thumbs=thumbs,
        model_calls=row.model_calls,
        tool_calls=tools[0] if tools is not None else None,
        tool_limit=tools[1] if tools is not None else None,
        map_steps=row.map_steps,
        quoted_steps=row.quoted_steps,
    )
