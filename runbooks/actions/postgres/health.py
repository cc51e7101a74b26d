"""Read-only observations of PostgreSQL targets: replication status, and the health probe that says
when the database service is back (the RTO's ``service_restored``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..base import Action, ActionFailed, Done, Outcome, ParamError, StepContext, require_positive
from ..probing import PROBE_BURST_SECONDS, probe_until_healthy
from .target import PgTarget, accepts_writes, described_target, in_recovery, role_now, timeline, wal_receiver

ROLES = ("primary", "standby")


@dataclass(frozen=True)
class StatusParams:
    target: str
    expect_role: str | None = None
    max_lag_bytes: int | None = None
    max_lag_seconds: float | None = None

    def validate(self) -> None:
        if self.expect_role is not None and self.expect_role not in ROLES:
            raise ParamError("expect_role", f"must be 'primary' or 'standby', got {self.expect_role!r}")
        if self.max_lag_bytes is not None and self.max_lag_bytes < 0:
            raise ParamError("max_lag_bytes", f"must be zero or more, got {self.max_lag_bytes}")
        if self.max_lag_seconds is not None and self.max_lag_seconds < 0:
            raise ParamError("max_lag_seconds", f"must be zero or more, got {self.max_lag_seconds}")


def replication_report(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Role, timeline and replay lag, from the server's own views."""
    if in_recovery(conn):
        row = conn.execute("""
            SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
                   coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,
                   pg_last_xact_replay_timestamp(),
                   -- Everything received is replayed: no lag, however long ago the last transaction was.
                   CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END,
                   pg_get_wal_replay_pause_state()
        """).fetchone()
        return {
            "role": "standby",
            "timeline": timeline(conn),
            "receive_lsn": row[0],
            "replay_lsn": row[1],
            "replay_lag_bytes": int(row[2]),
            "last_replayed_transaction_at": row[3].isoformat() if row[3] else None,
            "replay_lag_seconds": float(row[4]) if row[4] is not None else None,
            "replay_pause_state": row[5],
            "wal_receiver": wal_receiver(conn),
        }
    replicas = [
        {"application_name": r[0], "client_addr": str(r[1]) if r[1] else None, "state": r[2], "sync_state": r[3],
         "replay_lsn": r[4], "replay_lag_bytes": int(r[5]) if r[5] is not None else None,
         "replay_lag_seconds": float(r[6]) if r[6] is not None else 0.0}
        for r in conn.execute("""
            SELECT application_name, client_addr, state, sync_state, replay_lsn::text,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, extract(epoch FROM replay_lag)
            FROM pg_stat_replication ORDER BY application_name
        """).fetchall()
    ]
    lags = [r["replay_lag_bytes"] for r in replicas if r["replay_lag_bytes"] is not None]
    return {
        "role": "primary",
        "timeline": timeline(conn),
        "current_lsn": conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0],
        "replicas": replicas,
        "replay_lag_bytes": max(lags) if lags else None,
        "replay_lag_seconds": max((r["replay_lag_seconds"] for r in replicas), default=None),
    }


class PostgresReplicationStatus(Action[StatusParams]):
    name = "postgres.replication_status"
    summary = "Record a PostgreSQL server's role, timeline and replay lag (bytes and seconds); optionally require them."
    Params = StatusParams
    target_kind = "postgres"
    phase = "verify"
    changes = "nothing (reads pg_stat_replication / pg_stat_wal_receiver)"

    def describe(self, params: StatusParams, targets: dict[str, dict[str, Any]]) -> str:
        role = f", expecting a {params.expect_role}" if params.expect_role else ""
        return f"reads the replication status of {described_target(params.target, targets)}{role}"

    def plan(self, params: StatusParams, ctx: StepContext) -> dict[str, Any]:
        # Earlier steps may start, stop or promote this server: report what it is now, require nothing.
        target = PgTarget.of(ctx, params.target)
        role = role_now(target)
        if role == "stopped":
            return {"would": f"read the replication status of {params.target!r}", "role_now": role}
        return {"would": f"read the replication status of {params.target!r}", **self._observe(params, ctx)}

    def run(self, params: StatusParams, ctx: StepContext) -> Outcome:
        evidence = self._observe(params, ctx)
        problems = []
        if params.expect_role and evidence["role"] != params.expect_role:
            problems.append(f"it is a {evidence['role']}, the runbook expects a {params.expect_role}")
        lag_bytes, lag_seconds = evidence.get("replay_lag_bytes"), evidence.get("replay_lag_seconds")
        if params.max_lag_bytes is not None and lag_bytes is not None and lag_bytes > params.max_lag_bytes:
            problems.append(f"replay lag is {lag_bytes} bytes, more than the allowed {params.max_lag_bytes}")
        if params.max_lag_seconds is not None and lag_seconds is not None and lag_seconds > params.max_lag_seconds:
            problems.append(f"replay lag is {lag_seconds:.1f} s, more than the allowed {params.max_lag_seconds} s")
        if problems:
            raise ActionFailed(f"target {params.target!r} ({evidence['address']}): {'; '.join(problems)}")
        return Done(evidence=evidence)

    def _observe(self, params: StatusParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        with target.connect() as conn:
            report = replication_report(conn)
        return {"target": params.target, "address": target.address, "checked_at": ctx.now().isoformat(), **report}


@dataclass(frozen=True)
class WaitHealthyParams:
    target: str
    interval: float = 1.0
    consecutive: int = 3
    probe_timeout: int = 2
    writable: bool = True

    def validate(self) -> None:
        require_positive("interval", self.interval)
        require_positive("consecutive", self.consecutive)
        if self.probe_timeout < 2:
            raise ParamError("probe_timeout", f"must be at least 2 seconds (libpq's minimum), got {self.probe_timeout}")


def probe(target: PgTarget, *, writable: bool, timeout: int) -> tuple[bool, str]:
    try:
        with target.connect(timeout=timeout, statement_timeout_ms=timeout * 1000) as conn:
            if not writable:
                conn.execute("SELECT 1")
                return True, ""
            if accepts_writes(conn):
                return True, ""
            return False, "connected, but the server is read-only (a standby)"
    except ActionFailed as error:
        return False, str(error)
    except psycopg.Error as error:
        return False, " ".join(str(error).split())


class PostgresWaitHealthy(Action[WaitHealthyParams]):
    name = "postgres.wait_healthy"
    summary = ("Probe a PostgreSQL service every interval until it accepts a write (or a query) N times in a row "
               "(the RTO's 'restored').")
    Params = WaitHealthyParams
    target_kind = "postgres"
    phase = "verify"
    changes = "nothing lasting: each probe commits an empty read-write transaction"

    def call_timeout(self, params: WaitHealthyParams) -> float:
        # A multi-host target may spend probe_timeout on each host of one probe.
        return PROBE_BURST_SECONDS + params.interval + 4 * params.probe_timeout + 1

    def describe(self, params: WaitHealthyParams, targets: dict[str, dict[str, Any]]) -> str:
        kind = "write" if params.writable else "read"
        return (f"probes {described_target(params.target, targets)} every {params.interval:g} s until a {kind} "
                f"succeeds {params.consecutive} times in a row")

    def plan(self, params: WaitHealthyParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        target.password()  # a missing password reference fails the plan, not the drill
        what = "accepts a write" if params.writable else "answers a query"
        return {"would": f"probe {target.address} every {params.interval} s until it {what} "
                         f"{params.consecutive} times in a row"}

    def run(self, params: WaitHealthyParams, ctx: StepContext) -> Outcome:
        return self.poll(params, ctx)

    def poll(self, params: WaitHealthyParams, ctx: StepContext) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        target.password()

        def probe_once() -> tuple[bool, str, dict[str, Any]]:
            ok, detail = probe(target, writable=params.writable, timeout=params.probe_timeout)
            return ok, detail, {}

        what = "committed read-write transactions" if params.writable else "queries"
        return probe_until_healthy(probe_once, ctx, address=target.address, interval=params.interval,
                                   consecutive=params.consecutive,
                                   method=f"database probe: first success of a run of consecutive {what}")
