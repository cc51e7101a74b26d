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
    drill_id, step_id, position, attempt, phase, claimed_from, started_at, poll_state = values
    if isinstance(poll_state, str):
        poll_state = json.loads(poll_state)
    return ClaimedRow(step_run_id, drill_id, step_id, position, attempt, phase, claimed_from,
                      _as_datetime(started_at), poll_state or {})


def claim_for_message(step_run_id: int, *, token: str, worker: str) -> ClaimedRow | None:
    """A ``run_step`` message takes its step: a dispatched pending step whose time has come (a retry
    waits out its backoff), a polling step whose poll is due, or a running step whose lease ran out
    (its worker was lost)."""
    now = _now_sql()
    sql = f"""
        UPDATE drills_steprun SET
            claimed_from = status,
            status = 'running',
            attempt = CASE WHEN status = 'polling' THEN attempt ELSE attempt + 1 END,
            phase = CASE WHEN status = 'polling' THEN 'poll' WHEN status = 'pending' THEN 'run' ELSE phase END,
            claim_token = %(token)s, worker = %(worker)s,
            lease_expires_at = {_lease_sql()},
            started_at = COALESCE(started_at, {now})
        {_clock_sql()}
        WHERE id = %(id)s AND (
            (status = 'pending' AND dispatched_at <= {now})
            OR (status = 'polling' AND next_poll_at <= {now})
            OR (status = 'running' AND lease_expires_at < {now}))
        RETURNING {RETURNING}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"id": step_run_id, "token": token, "worker": worker, "now": _now_param()})
        return _row(step_run_id, cursor.fetchone())


def claim_next(step_run_id: int, *, token: str, worker: str) -> ClaimedRow | None:
    """The worker that finished a step takes the one after it, in the same transaction: a pending
    step nobody dispatched yet (a duplicate finisher, or ``advance``, finds it dispatched)."""
    sql = f"""{_take_pending_sql()}
        WHERE id = %(id)s AND status = 'pending' AND dispatched_at IS NULL
        RETURNING {RETURNING}"""
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
        RETURNING id, {RETURNING}"""
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
