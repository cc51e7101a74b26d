"""The statements every step goes through, written as single SQL statements because they are the
engine's hot path (docs/performance.md): taking a step (a conditional UPDATE that returns what the
worker needs) — either because a message asked for it, or because the worker that finished the step
before it continues straight into it.

The WHERE clause tests only columns of the row itself: PostgreSQL re-checks those against a row a
concurrent claimer just committed, so of two claimers exactly one gets the row. On PostgreSQL the
clock is the database server's (clock_timestamp(), inside the statement); on the embedded SQLite the
host's, passed in. The claim records the status it took the step from in ``claimed_from``: SET
expressions see the old row, RETURNING only the new one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from .clock import db_now

RETURNING = "drill_id, step_id, position, attempt, phase, claimed_from, started_at, poll_state"


def _returning() -> str:
    # The claim's own reading of the clock comes back too: a poll that only needs to know whether its
    # time has come need not read the clock again (runbooks/actions/timing).
    return f"{RETURNING}, {_now_sql()}"


@dataclass(frozen=True)
class ClaimedRow:
    step_run_id: int
    drill_id: int
    step_id: int
    position: int
    attempt: int
    phase: str
    claimed_from: str
    started_at: datetime
    poll_state: dict[str, Any]
    claimed_at: datetime


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _now_param() -> str | None:
    # PostgreSQL reads its own clock inside the statement; only SQLite needs the time passed in.
    return None if _postgres() else connection.ops.adapt_datetimefield_value(db_now())


def _now_sql() -> str:
    return "clock.now" if _postgres() else "%(now)s"


def _clock_sql() -> str:
    # One reading of the clock for the whole statement: clock_timestamp() written twice gives two
    # different microseconds, and a step dispatched and started in one claim must show one time.
    return "FROM (SELECT clock_timestamp() AS now) AS clock" if _postgres() else ""


def _lease_sql() -> str:
    if _postgres():
        return "clock.now + lease_seconds * interval '1 second'"
    return "strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(now)s, '+' || lease_seconds || ' seconds')"


def _take_pending_sql() -> str:
    """Taking a pending step that no message names (the worker that finished the one before takes
    it): dispatched and started at the same moment, by this worker."""
    now = _now_sql()
    return f"""
        UPDATE drills_steprun SET
            claimed_from = status,
            status = 'running', attempt = attempt + 1, phase = 'run',
            claim_token = %(token)s, worker = %(worker)s,
            lease_expires_at = {_lease_sql()},
            dispatched_at = {now},
            started_at = COALESCE(started_at, {now})
        {_clock_sql()}"""


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _row(step_run_id: int, values: tuple[Any, ...] | None) -> ClaimedRow | None:
    if values is None:
        return None
    drill_id, step_id, position, attempt, phase, claimed_from, started_at, poll_state, claimed_at = values
    if isinstance(poll_state, str):
        poll_state = json.loads(poll_state)
    return ClaimedRow(step_run_id, drill_id, step_id, position, attempt, phase, claimed_from,
                      _as_datetime(started_at), poll_state or {}, _as_datetime(claimed_at))


def _claim_for_message_sql(which: str) -> str:
    """The claim a ``run_step`` message makes of the step run ``which`` names: a dispatched pending step
    whose time has come (a retry waits out its backoff), a polling step whose poll is due, or a running
    step whose lease ran out (its worker was lost)."""
    now = _now_sql()
    return f"""
        UPDATE drills_steprun SET
            claimed_from = status,
            status = 'running',
            attempt = CASE WHEN status = 'polling' THEN attempt ELSE attempt + 1 END,
            phase = CASE WHEN status = 'polling' THEN 'poll' WHEN status = 'pending' THEN 'run' ELSE phase END,
            claim_token = %(token)s, worker = %(worker)s,
            lease_expires_at = {_lease_sql()},
            started_at = COALESCE(started_at, {now})
        {_clock_sql()}
        WHERE {which} AND (
            (status = 'pending' AND dispatched_at <= {now})
            OR (status = 'polling' AND next_poll_at <= {now})
            OR (status = 'running' AND lease_expires_at < {now}))
        RETURNING {_returning()}"""


def claim_for_message(step_run_id: int, *, token: str, worker: str) -> ClaimedRow | None:
    """A ``run_step`` message takes its step (``_claim_for_message_sql``)."""
    with connection.cursor() as cursor:
        cursor.execute(_claim_for_message_sql("id = %(id)s"),
                       {"id": step_run_id, "token": token, "worker": worker, "now": _now_param()})
        return _row(step_run_id, cursor.fetchone())


def claim_next(step_run_id: int, *, token: str, worker: str) -> ClaimedRow | None:
    """The worker that finished a step takes the one after it, in the same transaction: a pending
    step nobody dispatched yet (a duplicate finisher, or ``advance``, finds it dispatched)."""
    sql = f"""{_take_pending_sql()}
        WHERE id = %(id)s AND status = 'pending' AND dispatched_at IS NULL
        RETURNING {_returning()}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"id": step_run_id, "token": token, "worker": worker, "now": _now_param()})
        return _row(step_run_id, cursor.fetchone())


def claim_following(drill_id: int, position: int, *, token: str, worker: str) -> ClaimedRow | None:
    """The fast path of a sequential drill: the worker that finished the step before ``position``
    takes the step there, in one statement that also checks what the stage rule would (every earlier
    step succeeded or was skipped; this one pending and not dispatched). None when that does not
    hold; the caller then reads the statuses and decides the long way."""
    sql = f"""{_take_pending_sql()}
        WHERE drill_id = %(drill)s AND position = %(position)s AND status = 'pending' AND dispatched_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM drills_steprun earlier WHERE earlier.drill_id = %(drill)s
                          AND earlier.position < %(position)s AND earlier.status NOT IN ('succeeded', 'skipped'))
        RETURNING id, {_returning()}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"drill": drill_id, "position": position, "token": token, "worker": worker,
                             "now": _now_param()})
        values = cursor.fetchone()
        return None if values is None else _row(values[0], values[1:])


def lock_drill(drill_id: int) -> tuple[str | None, datetime]:
    """Lock the drill row (the lock order everything that moves a drill uses: drill, then its steps)
    and read its status and the measurement clock, in one statement."""
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute("SELECT status, clock_timestamp() FROM drills_drill WHERE id = %s FOR UPDATE", [drill_id])
            row = cursor.fetchone()
            return (row[0], row[1]) if row else (None, db_now())
        # SQLite: the surrounding IMMEDIATE transaction already holds the database's write lock.
        cursor.execute("SELECT status FROM drills_drill WHERE id = %s", [drill_id])
        row = cursor.fetchone()
        return (row[0] if row else None), db_now()


# --- one round trip on PostgreSQL ------------------------------------------------------------------
# A string of statements sent as one simple query runs as one implicit transaction on PostgreSQL:
# all of it commits, durably, or none of it does, and it costs one round trip instead of one per
# statement plus BEGIN and COMMIT (docs/performance.md). Each later statement tests what the earlier
# ones did, so the whole is decided inside the database; when a test fails, the statements change
# nothing and the caller takes the long way, which handles every case.

def one_round_trip() -> bool:
    """The statements below are for PostgreSQL outside a transaction (the worker's normal state)."""
    return _postgres() and connection.get_autocommit() and not connection.in_atomic_block


@dataclass(frozen=True)
class NewRow:
    """A timeline event the statements wrote."""

    event_id: int
    drill_id: int
    kind: str
    step_run_id: int
    message: str


@dataclass(frozen=True)
class Recorded:
    following: ClaimedRow | None
    events: list[NewRow]


_LOCK_RUNNING_DRILL = "SELECT status FROM drills_drill WHERE id = %(drill)s FOR UPDATE"
_DRILL_RUNNING = "EXISTS (SELECT 1 FROM drills_drill WHERE id = %(drill)s AND status = 'running')"
_EVENT_COLUMNS = "INSERT INTO drills_drillevent (drill_id, step_run_id, at, kind, message, data)"


def _events(cursor: Any) -> list[NewRow]:
    return [NewRow(*row) for row in cursor.fetchall()]


def record_success_and_take_following(*, drill_id: int, step_run_id: int, token: str, evidence: dict[str, Any],
                                      marks: dict[str, str], message: str, data: dict[str, Any] | None,
                                      following: int, following_label: str, following_token: str,
                                      worker: str) -> Recorded | None:
    """Step ``step_run_id`` succeeded: record it (only by the holder of its claim, only while the drill
    runs), take the pending step at ``following`` for this worker when the stage rule allows, and
    write both events, in one round trip. None when nothing was recorded (a superseded claim, a drill
    that stopped running): nothing changed and the long way decides. A result with no following step
    means the step was recorded and what comes next is still to decide."""
    sql = f"""
        {_LOCK_RUNNING_DRILL};
        UPDATE drills_steprun SET status = 'succeeded', finished_at = clock.now, evidence = %(evidence)s::jsonb,
            marks = %(marks)s::jsonb, error = '', lease_expires_at = NULL
        {_clock_sql()}
        WHERE id = %(run)s AND claim_token = %(run_token)s AND status = 'running' AND {_DRILL_RUNNING}
        RETURNING id;
        {_take_pending_sql()}
        WHERE drill_id = %(drill)s AND position = %(position)s AND status = 'pending' AND dispatched_at IS NULL
          AND EXISTS (SELECT 1 FROM drills_steprun done WHERE done.id = %(run)s AND done.claim_token = %(run_token)s
                      AND done.status = 'succeeded')
          AND NOT EXISTS (SELECT 1 FROM drills_steprun earlier WHERE earlier.drill_id = %(drill)s
                          AND earlier.position < %(position)s AND earlier.status NOT IN ('succeeded', 'skipped'))
        RETURNING id, {_returning()};
        {_EVENT_COLUMNS}
        SELECT drill_id, id, finished_at, 'step.succeeded', %(message)s, %(data)s::jsonb FROM drills_steprun
        WHERE id = %(run)s AND claim_token = %(run_token)s AND status = 'succeeded'
        UNION ALL
        SELECT drill_id, id, dispatched_at, 'step.started',
               %(label)s || ' started (attempt ' || attempt || ') on ' || %(worker)s || '.', '{{}}'::jsonb
        FROM drills_steprun WHERE drill_id = %(drill)s AND position = %(position)s AND claim_token = %(token)s
        RETURNING id, drill_id, kind, step_run_id, message"""
    params = {"drill": drill_id, "run": step_run_id, "run_token": token, "evidence": json.dumps(evidence),
              "marks": json.dumps(marks), "message": message, "data": json.dumps(data or {}), "position": following,
              "label": following_label, "token": following_token, "worker": worker}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.nextset()
        if cursor.fetchone() is None:
            return None
        cursor.nextset()
        values = cursor.fetchone()
        cursor.nextset()
        return Recorded(None if values is None else _row(values[0], values[1:]), _events(cursor))


def record_poll(*, drill_id: int, step_run_id: int, token: str, after_seconds: float, state: dict[str, Any],
                evidence: dict[str, Any] | None, timeout_seconds: float) -> bool:
    """A step asked to be polled again: record its continuation and when the poll is due, in one round
    trip, while the drill is active and the step within its time limit. False when that does not hold
    (nothing changed: the long way decides)."""
    sql = f"""
        {_LOCK_RUNNING_DRILL};
        UPDATE drills_steprun SET status = 'polling', next_poll_at = clock.now + %(after)s * interval '1 second',
            poll_state = %(state)s::jsonb, lease_expires_at = NULL
            {", evidence = %(evidence)s::jsonb" if evidence else ""}
        {_clock_sql()}
        WHERE id = %(run)s AND claim_token = %(token)s AND status = 'running'
          AND clock.now - started_at <= %(timeout)s * interval '1 second'
          AND EXISTS (SELECT 1 FROM drills_drill WHERE id = %(drill)s AND status IN ('running', 'waiting'))
        RETURNING id"""
    params = {"drill": drill_id, "run": step_run_id, "token": token, "after": after_seconds,
              "state": json.dumps(state), "evidence": json.dumps(evidence or {}), "timeout": timeout_seconds}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.nextset()
        return cursor.fetchone() is not None


def claim_for_message_in_one_round_trip(step_run_id: int, drill_id: int, position: int, *, token: str,
                                        worker: str) -> tuple[ClaimedRow | None, list[NewRow]]:
    """``claim_for_message`` with its timeline event (a step started, or taken over from a lost worker;
    a poll writes none) in the same round trip, for a message that names the step's drill and
    position. The event names the step as ``PinnedStep.label`` does, from the step row itself."""
    sql = f"""{_claim_for_message_sql("id = %(id)s AND drill_id = %(drill)s AND position = %(position)s")};
        {_EVENT_COLUMNS}
        SELECT run.drill_id, run.id, clock_timestamp(),
            CASE WHEN run.claimed_from = 'running' THEN 'step.reclaimed' ELSE 'step.started' END,
            CASE WHEN run.claimed_from = 'running'
                 THEN 'Step ' || run.position || ' “' || step.name || '”: its worker was lost; attempt ' || run.attempt
                      || ' on ' || %(worker)s || ' checks the real state and continues.'
                 ELSE 'Step ' || run.position || ' “' || step.name || '” started (attempt ' || run.attempt || ') on '
                      || %(worker)s || '.'
            END, '{{}}'::jsonb
        FROM drills_steprun run JOIN runbooks_step step ON step.id = run.step_id
        WHERE run.id = %(id)s AND run.claim_token = %(token)s AND (run.claimed_from = 'running' OR run.phase = 'run')
        RETURNING id, drill_id, kind, step_run_id, message"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"id": step_run_id, "drill": drill_id, "position": position, "token": token,
                                 "worker": worker})
        row = _row(step_run_id, cursor.fetchone())
        cursor.nextset()
        return row, _events(cursor)
