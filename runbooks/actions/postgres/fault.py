"""Injecting the outage of a PostgreSQL drill, and marking when it started."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from ..base import Action, ActionFailed, Done, Outcome, ParamError, StepContext
from .jobs import StepWorkdir
from .target import TOOL_TIMEOUT, PgTarget, data_directory, described_target, in_recovery

MODES = ("stop", "refuse_connections")
STOP_SECONDS = 15


@dataclass(frozen=True)
class FaultParams:
    target: str
    mode: str = "stop"

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ParamError("mode", f"must be 'stop' or 'refuse_connections', got {self.mode!r}")


def check_serves_data_dir(target: PgTarget) -> str:
    """Connect and make sure the server at the binding's address is the one in its data_dir: a
    binding that mixes up two servers must not stop the wrong one. Returns the role."""
    with target.connect() as conn:
        served = data_directory(conn)
        role = "standby" if in_recovery(conn) else "primary"
    if served is not None and os.path.realpath(served) != os.path.realpath(target.data_dir):
        raise ActionFailed(f"target {target.name!r}: the server at {target.address} runs from {served}, but the "
                           f"binding's data_dir is {target.data_dir}; fix the binding (nothing was changed)")
    return role


class PostgresFault(Action[FaultParams]):
    name = "postgres.fault"
    summary = ("Inject the outage: stop the server in immediate mode (a crash), or make its database refuse "
               "connections; mark it outage_start.")
    Params = FaultParams
    target_kind = "postgres"
    changes = ("stops the server with pg_ctl stop -m immediate (no shutdown checkpoint, like a crash), or sets "
               "ALLOW_CONNECTIONS false on the database and ends its sessions")

    def call_timeout(self, params: FaultParams) -> float:
        return STOP_SECONDS + TOOL_TIMEOUT

    def describe(self, params: FaultParams, targets: dict[str, dict[str, Any]]) -> str:
        where = described_target(params.target, targets)
        if params.mode == "stop":
            return f"stops PostgreSQL {where} in immediate mode, like a crash: the outage"
        return f"makes the database of {where} refuse new connections: the outage"

    def plan(self, params: FaultParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        if params.mode == "stop":
            target.tool("pg_ctl")
            if not target.server_running():
                raise ActionFailed(f"the server of target {params.target!r} ({target.data_dir}) is not running: "
                                   "there is nothing to stop")
            role = check_serves_data_dir(target)
            return {"would": f"stop the {role} at {target.address} ({target.data_dir}) with pg_ctl stop -m immediate",
                    "role": role}
        dbname = self._dbname(target)
        with target.connect(dbname="postgres") as conn:
            row = conn.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if row is None:
            raise ActionFailed(f"target {params.target!r}: there is no database {dbname!r}")
        return {"would": f"make database {dbname!r} at {target.address} refuse connections and end its sessions",
                "accepts_connections_now": row[0]}

    def run(self, params: FaultParams, ctx: StepContext) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        workdir = StepWorkdir(ctx)
        if params.mode == "stop":
            return self._stop(target, workdir, ctx)
        return self._refuse_connections(target, workdir, ctx)

    def _stop(self, target: PgTarget, workdir: StepWorkdir, ctx: StepContext) -> Outcome:
        requested = workdir.read_note("outage")
        if not target.server_running():
            if requested is None:
                raise ActionFailed(f"the server of target {target.name!r} ({target.data_dir}) is not running, and this "
                                   "step did not stop it: there is no outage to inject (nothing was changed)")
            # Redelivered after the stop: the outage began when the lost attempt stopped the server.
            return self._done(target, "stop", requested, ctx, already=True)
        check_serves_data_dir(target)
        # The outage starts the moment the stop is sent; note it first, so a redelivery keeps that time
        # (also when the lost attempt's stop is still under way).
        at = requested or ctx.now()
        workdir.note("outage", at)
        target.run_tool("pg_ctl", "stop", "-D", str(target.data_dir), "-m", "immediate", "-w", "-t", str(STOP_SECONDS),
                        timeout=STOP_SECONDS + 5)
        return self._done(target, "stop", at, ctx, already=False)

    def _refuse_connections(self, target: PgTarget, workdir: StepWorkdir, ctx: StepContext) -> Outcome:
        dbname = self._dbname(target)
        requested = workdir.read_note("outage")
        with target.connect(dbname="postgres") as conn:
            row = conn.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if row is None:
                raise ActionFailed(f"target {target.name!r}: there is no database {dbname!r}")
            if not row[0]:
                if requested is None:
                    raise ActionFailed(f"database {dbname!r} of target {target.name!r} already refuses connections, "
                                       "and this step did not do it: there is no outage to inject (nothing was changed)")
                return self._done(target, "refuse_connections", requested, ctx, already=True)
            at = ctx.now()
            workdir.note("outage", at)
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(dbname)))
            ended = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchone()[0]
        outcome = self._done(target, "refuse_connections", at, ctx, already=False)
        outcome.evidence.update({"sessions_ended": ended,
                                 "undo": f"ALTER DATABASE \"{dbname}\" WITH ALLOW_CONNECTIONS true"})
        return outcome

    def _dbname(self, target: PgTarget) -> str:
        dbname = target.binding.get("dbname")
        if not dbname:
            raise ActionFailed(f"target {target.name!r} names no dbname: refuse_connections needs the database to close")
        return str(dbname)

    def _done(self, target: PgTarget, mode: str, at: datetime, ctx: StepContext, *, already: bool) -> Done:
        return Done(evidence={"target": target.name, "address": target.address, "mode": mode,
                              "data_dir": target.binding.get("data_dir"), "fault_at": at.isoformat(),
                              "confirmed_at": ctx.now().isoformat(), "already_done_by_an_earlier_attempt": already},
                    marks={"outage_start": at})
