"""Changing who is primary: promote a standby (failover), switch over cleanly (failback), and turn a
former primary into a standby of the new one (pg_rewind, else a fresh base backup).

Idempotency rests on two things. The engine keeps each PollAgain's state durably, so an action first
looks (``run``: "this is a standby of that primary") and only acts in ``poll``: a redelivered poll
that finds a primary knows its own lost attempt promoted it, while a first ``run`` that finds a
primary knows it was never a standby. Notes in the step's folder record intent ("stop requested at")
before acting, so a redelivery keeps the time the lost attempt acted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ..base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, require_positive
from .fault import STOP_SECONDS, check_serves_data_dir
from .health import replication_report
from .jobs import Job, StepWorkdir
from .target import (
    START_GRACE_SECONDS,
    TOOL_TIMEOUT,
    PgTarget,
    accepts_writes,
    described_target,
    follows,
    in_recovery,
    is_superuser_or,
    role_now,
    timeline,
    wal_receiver,
)

BURST_SECONDS = 2.0
CHECK_EVERY = 0.05
SQL_CALL_TIMEOUT = 15.0


def promote_until_writable(target: PgTarget, ctx: StepContext, state: dict[str, Any]) -> dict[str, Any] | None:
    """Promote ``target`` if it is still a standby, then wait (one burst at most) until it commits a
    write. Returns what happened once it does, None to be called again; ``state`` records the
    promote request so the next call does not repeat it."""
    burst_end = time.monotonic() + BURST_SECONDS
    with target.connect() as conn:
        while True:
            if in_recovery(conn):
                if "promote_requested_at" not in state:
                    state["promote_requested_at"] = ctx.now().isoformat()
                    try:
                        signalled = conn.execute("SELECT pg_promote(wait => false)").fetchone()[0]
                    except psycopg.errors.ObjectNotInPrerequisiteState:
                        signalled = True  # recovery ended between our check and the call: promoted
                    if not signalled:
                        raise ActionFailed(f"pg_promote() on target {target.name!r} could not signal its postmaster")
            elif accepts_writes(conn):
                return {
                    "promoted": target.name,
                    "address": target.address,
                    "accepts_writes_at": ctx.now().isoformat(),
                    "timeline": timeline(conn),
                    "pg_promote_requested_at": state.get("promote_requested_at"),
                    # Promoted, but not by a call of ours that we know of: a lost attempt made it.
                    "promoted_by_an_earlier_attempt": "promote_requested_at" not in state,
                }
            if time.monotonic() + CHECK_EVERY > burst_end:
                return None
            time.sleep(CHECK_EVERY)


def standby_facts(target: PgTarget, *, need_promote_right: bool) -> dict[str, Any]:
    """Connect to what must be a standby, or say clearly that it is not one."""
    with target.connect() as conn:
        if not in_recovery(conn):
            raise ActionFailed(f"target {target.name!r} ({target.address}) is not a standby: pg_is_in_recovery() is "
                               "false, it already accepts writes as a primary; nothing was changed")
        if need_promote_right and not conn.execute(
                "SELECT has_function_privilege('pg_promote(boolean, integer)', 'EXECUTE')").fetchone()[0]:
            raise ActionFailed(f"target {target.name!r}: the role {target.binding.get('user')!r} may not call pg_promote(); "
                               "grant it EXECUTE on pg_promote or use a superuser")
        return replication_report(conn)


@dataclass(frozen=True)
class PromoteParams:
    target: str


class PostgresPromote(Action[PromoteParams]):
    name = "postgres.promote"
    summary = "Promote a streaming standby with pg_promote() and wait until it commits a write."
    Params = PromoteParams
    target_kind = "postgres"
    changes = "promotes the standby: it leaves recovery, starts a new timeline and accepts writes"

    def call_timeout(self, params: PromoteParams) -> float:
        return SQL_CALL_TIMEOUT

    def describe(self, params: PromoteParams, targets: dict[str, dict[str, Any]]) -> str:
        return f"promotes the standby {described_target(params.target, targets)} to a primary that accepts writes"

    def plan(self, params: PromoteParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        report = standby_facts(target, need_promote_right=True)
        return {"would": f"promote the standby at {target.address} with pg_promote() and wait for a write", **report}

    def run(self, params: PromoteParams, ctx: StepContext) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        report = standby_facts(target, need_promote_right=True)
        # Act only in poll(): the engine stores this state before the promote, so a redelivered poll
        # that finds a primary knows it was a standby when this step began.
        return PollAgain(after_seconds=0, state={"seen_standby_at": ctx.now().isoformat(), "before": report})

    def poll(self, params: PromoteParams, ctx: StepContext) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        state = dict(ctx.state)
        promoted = promote_until_writable(target, ctx, state)
        if promoted is None:
            return PollAgain(after_seconds=0.1, state=state,
                             evidence={"pg_promote_requested_at": state.get("promote_requested_at")})
        evidence = {**promoted, "standby_before": state.get("before"), "seen_standby_at": state.get("seen_standby_at"),
                    "attempt": ctx.attempt}
        return Done(evidence=evidence, marks={"service_restored": datetime.fromisoformat(promoted["accepts_writes_at"])})


@dataclass(frozen=True)
class SwitchoverParams:
    target: str
    primary: str
    catchup_timeout: float = 60.0

    def validate(self) -> None:
        require_positive("catchup_timeout", self.catchup_timeout)


class PostgresSwitchover(Action[SwitchoverParams]):
    name = "postgres.switchover"
    summary = ("Planned switchover without data loss: stop the primary cleanly, wait until the standby replayed "
               "its last WAL, promote the standby.")
    Params = SwitchoverParams
    target_kind = "postgres"
    changes = ("stops the primary (pg_ctl stop -m fast) and promotes the standby; rejoin the old primary with "
               "postgres.rebuild_standby")

    def call_timeout(self, params: SwitchoverParams) -> float:
        return STOP_SECONDS + TOOL_TIMEOUT + SQL_CALL_TIMEOUT

    def describe(self, params: SwitchoverParams, targets: dict[str, dict[str, Any]]) -> str:
        return (f"stops the primary {described_target(params.primary, targets)} cleanly and promotes the standby "
                f"{described_target(params.target, targets)} once it has caught up")

    def plan(self, params: SwitchoverParams, ctx: StepContext) -> dict[str, Any]:
        # A failback runbook makes the pair in earlier steps (rebuild_standby): the roles it needs are
        # checked by run(), before anything is done; here only what no earlier step changes.
        primary, standby = PgTarget.of(ctx, params.primary), PgTarget.of(ctx, params.target)
        primary.tool("pg_ctl")
        primary.tool("pg_controldata")
        return {"would": f"stop {primary.address} cleanly, wait for {standby.address} to replay its last WAL, "
                         "promote it",
                "primary_role_now": role_now(primary), "target_role_now": role_now(standby),
                "note": f"when this step runs, {standby.name!r} must stream from the primary {primary.name!r}"}

    def run(self, params: SwitchoverParams, ctx: StepContext) -> Outcome:
        primary, standby = PgTarget.of(ctx, params.primary), PgTarget.of(ctx, params.target)
        report = self._check_pair(primary, standby)
        return PollAgain(after_seconds=0, state={"phase": "stop", "before": report})

    def _check_pair(self, primary: PgTarget, standby: PgTarget) -> dict[str, Any]:
        report = standby_facts(standby, need_promote_right=True)
        if not follows(report["wal_receiver"], primary):
            raise ActionFailed(f"target {standby.name!r} is not streaming from {primary.name!r} ({primary.address}); its "
                               f"WAL receiver: {report['wal_receiver'] or 'none'}. A switchover needs a standby in sync "
                               "with the primary; nothing was changed")
        primary.tool("pg_ctl")
        if check_serves_data_dir(primary) != "primary":
            raise ActionFailed(f"{primary.name!r} ({primary.address}) is not a primary; nothing was changed")
        return report

    def poll(self, params: SwitchoverParams, ctx: StepContext) -> Outcome:
        primary, standby = PgTarget.of(ctx, params.primary), PgTarget.of(ctx, params.target)
        workdir = StepWorkdir(ctx)
        state = dict(ctx.state)
        if state["phase"] == "stop":
            stop_at = workdir.read_note("stop")
            if primary.server_running():
                if stop_at is None:
                    # Writes stop here: note the time first, so a redelivery keeps it as the outage start.
                    stop_at = ctx.now()
                    workdir.note("stop", stop_at)
                primary.run_tool("pg_ctl", "stop", "-D", str(primary.data_dir), "-m", "fast", "-w",
                                 "-t", str(STOP_SECONDS), timeout=STOP_SECONDS + 5)
            elif stop_at is None:
                raise ActionFailed(f"the primary {primary.name!r} is not running, and this step did not stop it: "
                                   "its standby was not promoted")
            control = primary.control_data()
            if control.get("Database cluster state") != "shut down":
                raise ActionFailed(f"the primary {primary.name!r} did not shut down cleanly (state: "
                                   f"{control.get('Database cluster state')}); a switchover cannot promise no data loss. "
                                   f"{standby.name!r} was not promoted: start the primary again, or fail over with "
                                   "postgres.promote")
            state.update(phase="catchup", stop_requested_at=stop_at.isoformat(), stopped_at=ctx.now().isoformat(),
                         shutdown_checkpoint_lsn=control["Latest checkpoint location"])
        if state["phase"] == "catchup":
            with standby.connect() as conn:
                if in_recovery(conn):
                    # Replayed past the shutdown checkpoint record: everything the primary committed.
                    caught_up, replayed = conn.execute(
                        "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) > 0, pg_last_wal_replay_lsn()::text",
                        (state["shutdown_checkpoint_lsn"],)).fetchone()
                    if not caught_up:
                        waited = (ctx.now() - datetime.fromisoformat(state["stopped_at"])).total_seconds()
                        if waited > params.catchup_timeout:
                            raise ActionFailed(
                                f"{standby.name!r} replayed only up to {replayed}, not the primary's shutdown checkpoint "
                                f"at {state['shutdown_checkpoint_lsn']}, within {params.catchup_timeout:.0f} s; it was not "
                                f"promoted. Start {primary.name!r} again to resume service")
                        return PollAgain(after_seconds=0.1, state=state)
                    state["replayed_lsn_before_promote"] = replayed
            state["phase"] = "promote"
        promoted = promote_until_writable(standby, ctx, state)
        if promoted is None:
            return PollAgain(after_seconds=0.1, state=state)
        evidence = {
            "old_primary": primary.name,
            "new_primary": standby.name,
            "stop_requested_at": state["stop_requested_at"],
            "old_primary_stopped_at": state["stopped_at"],
            "shutdown_checkpoint_lsn": state["shutdown_checkpoint_lsn"],
            "replayed_lsn_before_promote": state.get("replayed_lsn_before_promote"),
            "standby_before": state.get("before"),
            **promoted,
        }
        return Done(evidence=evidence, marks={
            "outage_start": datetime.fromisoformat(state["stop_requested_at"]),
            "service_restored": datetime.fromisoformat(promoted["accepts_writes_at"]),
        })


REBUILD_METHODS = ("rewind", "base_backup")


@dataclass(frozen=True)
class RebuildParams:
    target: str
    source: str
    method: str = "rewind"
    start_timeout: float = 60.0

    def validate(self) -> None:
        if self.method not in REBUILD_METHODS:
            raise ParamError("method", f"must be 'rewind' (falls back to a base backup) or 'base_backup', "
                                       f"got {self.method!r}")
        require_positive("start_timeout", self.start_timeout)


class PostgresRebuildStandby(Action[RebuildParams]):
    name = "postgres.rebuild_standby"
    summary = ("Turn a stopped former primary into a streaming standby of the new primary: pg_rewind, falling back "
               "to a fresh base backup.")
    Params = RebuildParams
    target_kind = "postgres"
    changes = ("rewrites the target's data directory (pg_rewind), or moves it aside and takes a fresh base backup "
               "into its place; then starts it as a standby")

    def call_timeout(self, params: RebuildParams) -> float:
        return TOOL_TIMEOUT + SQL_CALL_TIMEOUT

    def describe(self, params: RebuildParams, targets: dict[str, dict[str, Any]]) -> str:
        how = "rewinds" if params.method == "rewind" else "re-copies with a fresh base backup"
        return (f"{how} {described_target(params.target, targets)} and starts it as a standby of "
                f"{described_target(params.source, targets)}")

    def plan(self, params: RebuildParams, ctx: StepContext) -> dict[str, Any]:
        target, source = PgTarget.of(ctx, params.target), PgTarget.of(ctx, params.source)
        for tool in ("pg_ctl", "pg_rewind", "pg_basebackup", "pg_controldata"):
            target.tool(tool)
        if not target.path_writable_by_server_user(target.data_dir.parent):
            raise ActionFailed(f"{target.os_user!r} cannot write into {target.data_dir.parent}, where a fresh base "
                               "backup would go")
        if target.exists_for_server_user(target.data_dir):
            control = target.control_data()
            # pg_rewind needs hint bits in the WAL; without them the step falls back to a base backup.
            rewindable = (control.get("wal_log_hints setting") == "on"
                          or control.get("Data page checksum version", "0") != "0")
            target_role = role_now(target)
        else:
            rewindable, target_role = False, "no data directory yet"
        facts: dict[str, Any] = {"target_role_now": target_role, "source_role_now": role_now(source),
                                 "rewind_possible": rewindable}
        if facts["source_role_now"] != "stopped":
            with source.connect() as conn:
                if not is_superuser_or(conn, "rolreplication"):
                    raise ActionFailed(f"source {source.name!r}: the role {source.binding.get('user')!r} needs the "
                                       "REPLICATION attribute (or superuser) for a base backup")
                facts["source_wal_keep_size"] = conn.execute("SHOW wal_keep_size").fetchone()[0]
        return {
            "would": f"make {target.name!r} ({target.data_dir}) a standby of {source.address}: "
                     + ("pg_rewind, else a fresh base backup" if params.method == "rewind" else "a fresh base backup"),
            **facts,
            "note": "the target must be stopped and the source a primary when this step runs",
        }

    def run(self, params: RebuildParams, ctx: StepContext) -> Outcome:
        return self._advance(params, ctx, fresh_attempt=True)

    def poll(self, params: RebuildParams, ctx: StepContext) -> Outcome:
        return self._advance(params, ctx, fresh_attempt=False)

    def _advance(self, params: RebuildParams, ctx: StepContext, *, fresh_attempt: bool) -> Outcome:
        target, source = PgTarget.of(ctx, params.target), PgTarget.of(ctx, params.source)
        workdir = StepWorkdir(ctx)
        state = dict(ctx.state)
        started_at = workdir.read_note("start")
        if target.server_running():
            return self._check_running(params, target, source, state, started_at, ctx)
        if started_at is not None:
            if (ctx.now() - started_at).total_seconds() < START_GRACE_SECONDS:
                return PollAgain(after_seconds=0.2, state=state)  # the postmaster has not written its pid file yet
            raise ActionFailed(f"{target.name!r} was started as a standby but stopped again: {target.server_log_tail()}")
        rewind, base_backup = workdir.job("rewind"), workdir.job("base-backup")
        if base_backup.exists():
            return self._follow_base_backup(target, source, base_backup, workdir, state, ctx, fresh_attempt)
        if rewind.exists():
            status = rewind.status
            if status == "running":
                return PollAgain(after_seconds=0.2, state=state)
            if status == "succeeded":
                return self._start(target, workdir, state, ctx, method="pg_rewind", output=rewind.output_tail())
            # pg_rewind could not do it (no WAL back to the divergence, no wal_log_hints...): start afresh.
            state["rewind_failed"] = rewind.output_tail()
            return self._begin_base_backup(target, source, base_backup, state, ctx)
        self._check_source(source)
        if params.method == "base_backup":
            return self._begin_base_backup(target, source, base_backup, state, ctx)
        rewind.start(target.as_server_user([
            target.tool("pg_rewind"), "--target-pgdata", str(target.data_dir),
            "--source-server", source.tool_conninfo(), "--write-recovery-conf", "--progress",
        ]), env=source.tool_env())
        return PollAgain(after_seconds=0.2, state=state)

    def _check_source(self, source: PgTarget) -> None:
        with source.connect() as conn:
            if in_recovery(conn):
                raise ActionFailed(f"source {source.name!r} ({source.address}) is a standby, not a primary: a rebuilt "
                                   "standby must follow the primary; nothing was changed")
            # pg_rewind reads the source's timeline from its control file, which a recently promoted
            # server only updates at its next checkpoint.
            conn.execute("CHECKPOINT")

    def _check_running(self, params: RebuildParams, target: PgTarget, source: PgTarget, state: dict[str, Any],
                       started_at: datetime | None, ctx: StepContext) -> Outcome:
        try:
            with target.connect() as conn:
                recovering = in_recovery(conn)
                receiver = wal_receiver(conn) if recovering else None
                report = replication_report(conn) if recovering else None
        except ActionFailed:
            if started_at is None:
                raise
            receiver, recovering, report = None, True, None  # still starting up
        if not recovering:
            raise ActionFailed(f"{target.name!r} ({target.address}) is running as a primary; stop it before it is "
                               f"rebuilt as a standby of {source.name!r} (a postgres.fault step stops it); "
                               "nothing was changed")
        if follows(receiver, source):
            return Done(evidence={
                "standby": target.name,
                "follows": source.name,
                "method": state.get("method") or ("rebuilt by an earlier attempt" if started_at
                                                  else "none needed: already a streaming standby of the source"),
                "rewind_failed": state.get("rewind_failed"),
                "tool_output": state.get("output"),
                "previous_data_dir_kept_at": state.get("set_aside"),
                "started_at": started_at.isoformat() if started_at else None,
                "streaming_at": ctx.now().isoformat(),
                **(report or {}),
            }, marks={"failback_complete": ctx.now()})
        if started_at is None:
            raise ActionFailed(f"{target.name!r} is already a standby, but not of {source.name!r} (its WAL receiver: "
                               f"{receiver or 'none'}); nothing was changed")
        if (ctx.now() - started_at).total_seconds() > params.start_timeout:
            raise ActionFailed(f"{target.name!r} started but does not stream from {source.name!r} after "
                               f"{params.start_timeout:.0f} s (WAL receiver: {receiver or 'none'}); server log: "
                               f"{target.server_log_tail()}")
        return PollAgain(after_seconds=0.2, state=state)

    def _begin_base_backup(self, target: PgTarget, source: PgTarget, job: Job, state: dict[str, Any],
                           ctx: StepContext) -> Outcome:
        # Never delete a data directory: keep the old one beside the new, for the record.
        aside = target.data_dir.with_name(f"{target.data_dir.name}.drill{ctx.drill_id}-{ctx.step_key}-before-rebuild")
        if target.exists_for_server_user(target.data_dir):
            if target.exists_for_server_user(aside):
                raise ActionFailed(f"cannot move {target.data_dir} aside: {aside} already exists; move one of them "
                                   "away (nothing was changed)")
            target.run_as_server_user(["mv", str(target.data_dir), str(aside)])
        state["set_aside"] = str(aside)
        job.start(target.as_server_user([
            target.tool("pg_basebackup"), "-D", str(target.data_dir), "--write-recovery-conf", "-X", "stream",
            "-c", "fast", "--no-password", "-d", source.tool_conninfo(),
        ]), env=source.tool_env())
        return PollAgain(after_seconds=0.2, state=state)

    def _follow_base_backup(self, target: PgTarget, source: PgTarget, job: Job, workdir: StepWorkdir,
                            state: dict[str, Any], ctx: StepContext, fresh_attempt: bool) -> Outcome:
        status = job.status
        if status == "running":
            return PollAgain(after_seconds=0.2, state=state)
        if status == "succeeded":
            return self._start(target, workdir, state, ctx, method="base backup", output=job.output_tail())
        if not fresh_attempt:
            raise ActionFailed(f"pg_basebackup from {source.name!r} into {target.data_dir} failed: {job.output_tail()}")
        # A new attempt after a failed base backup: the data directory is that backup's partial copy
        # (the real one was moved aside first), so it is this step's own to remove.
        job.set_aside()
        target.run_as_server_user(["rm", "-rf", str(target.data_dir)])
        return self._begin_base_backup(target, source, job, state, ctx)

    def _start(self, target: PgTarget, workdir: StepWorkdir, state: dict[str, Any], ctx: StepContext, *,
               method: str, output: str) -> Outcome:
        # pg_rewind and pg_basebackup copy the source's configuration, its port included.
        target.set_port_in_auto_conf()
        workdir.note("start", ctx.now())
        target.start_server()
        state.update(method=method, output=output)
        return PollAgain(after_seconds=0.2, state=state)
