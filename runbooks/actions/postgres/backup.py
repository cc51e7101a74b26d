"""Base backups of a PostgreSQL cluster and restores from them.

``postgres.backup`` runs ``pg_basebackup -X stream``: the copy plus the WAL that makes it consistent.
Its consistent point is the WAL end point pg_basebackup reports when the server ends the backup
(pg_backup_stop): everything committed before it is in the backup, nothing after. We record that
LSN and the moment the line was written, which is what the RPO of a restore is measured against.

``postgres.restore`` copies a backup into a new data directory (it never overwrites one), sets the
binding's port, starts the server and waits until it accepts connections. The server replays the
backup's WAL and opens at the consistent point.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, require_positive
from .jobs import HostClock, Job, StepWorkdir
from .target import (
    START_GRACE_SECONDS,
    TOOL_TIMEOUT,
    PgTarget,
    data_directory,
    described_target,
    in_recovery,
    is_superuser_or,
    timeline,
)

START_POINT = "write-ahead log start point: "
END_POINT = "write-ahead log end point: "


@dataclass(frozen=True)
class BackupParams:
    target: str
    directory: str | None = None

    def validate(self) -> None:
        if self.directory is not None and not self.directory.startswith("/"):
            raise ParamError("directory", f"must be an absolute path, got {self.directory!r}")


def backup_path(params: BackupParams, target: PgTarget, ctx: StepContext) -> Path:
    base = params.directory or target.binding.get("backup_dir")
    if not base:
        raise ActionFailed(f"where should the backup of {target.name!r} go? Give params.directory, or backup_dir in "
                           "the target's binding")
    return Path(base) / f"{target.name}-drill{ctx.drill_id}-{ctx.step_key}"


class PostgresBackup(Action[BackupParams]):
    name = "postgres.backup"
    summary = "Take a base backup (pg_basebackup -X stream); records its consistent point: WAL end LSN and time."
    Params = BackupParams
    target_kind = "postgres"
    changes = "writes a new backup directory; the server runs a checkpoint and streams the backup"

    def call_timeout(self, params: BackupParams) -> float:
        return TOOL_TIMEOUT

    def describe(self, params: BackupParams, targets: dict[str, dict[str, Any]]) -> str:
        where = params.directory or targets.get(params.target, {}).get("backup_dir", "its backup_dir")
        return f"takes a base backup of {described_target(params.target, targets)} into {where}"

    def plan(self, params: BackupParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        target.tool("pg_basebackup")
        destination = backup_path(params, target, ctx)
        with target.connect() as conn:
            if not is_superuser_or(conn, "rolreplication"):
                raise ActionFailed(f"target {params.target!r}: the role {target.binding.get('user')!r} needs the "
                                   "REPLICATION attribute (or superuser) to take a base backup")
            if int(conn.execute("SHOW max_wal_senders").fetchone()[0]) < 1:
                raise ActionFailed(f"target {params.target!r}: max_wal_senders is 0, so pg_basebackup cannot connect")
            role = "standby" if in_recovery(conn) else "primary"
        if not target.path_writable_by_server_user(destination.parent):
            raise ActionFailed(f"{target.os_user!r} cannot write into {destination.parent}")
        if target.exists_for_server_user(destination):
            raise ActionFailed(f"{destination} already exists; a backup never overwrites one")
        return {"would": f"back up the {role} at {target.address} into {destination}"}

    def run(self, params: BackupParams, ctx: StepContext) -> Outcome:
        return self._advance(params, ctx, fresh_attempt=True)

    def poll(self, params: BackupParams, ctx: StepContext) -> Outcome:
        return self._advance(params, ctx, fresh_attempt=False)

    def _advance(self, params: BackupParams, ctx: StepContext, *, fresh_attempt: bool) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        destination = backup_path(params, target, ctx)
        job = StepWorkdir(ctx).job("base-backup")
        status = job.status
        if status in ("failed", "lost") and fresh_attempt:
            # A new attempt after a failed one: the partial backup is this step's own; start again.
            job.set_aside()
            target.run_as_server_user(["rm", "-rf", str(destination)])
            status = "absent"
        if status == "absent":
            if target.exists_for_server_user(destination):
                raise ActionFailed(f"{destination} already exists and this step did not write it; move it away "
                                   "(a backup never overwrites one)")
            job.start(target.as_server_user([
                target.tool("pg_basebackup"), "-D", str(destination), "-X", "stream", "-c", "fast", "--verbose",
                "--no-password", "-d", target.tool_conninfo(),
            ]), env=target.tool_env())
            return PollAgain(after_seconds=0.2)
        if status == "running":
            return PollAgain(after_seconds=0.2)
        if status != "succeeded":
            raise ActionFailed(f"pg_basebackup of {params.target!r} into {destination} failed: {job.output_tail()}")
        return Done(evidence=self._evidence(target, destination, job, ctx))

    def _evidence(self, target: PgTarget, destination: Path, job: Job, ctx: StepContext) -> dict[str, Any]:
        start, end = job.first_line_with(START_POINT), job.first_line_with(END_POINT)
        if start is None or end is None:
            raise ActionFailed(f"pg_basebackup of {target.name!r} finished without reporting its WAL start and end "
                               f"points: {job.output_tail()}")
        start_lsn, _, start_timeline = start.text.split(START_POINT, 1)[1].partition(" on timeline ")
        clock = HostClock(ctx.now)
        lines = job.lines()
        manifest = destination / "backup_manifest"
        return {
            "backup_of": target.name,
            "source": target.address,
            "path": str(destination),
            "method": "pg_basebackup -X stream -c fast",
            "start_lsn": start_lsn.strip(),
            "timeline": int(start_timeline) if start_timeline.strip().isdigit() else None,
            "consistent_lsn": end.text.split(END_POINT, 1)[1].strip(),
            "started_at": clock.at(lines[0].at).isoformat(),
            "consistent_at": clock.at(end.at).isoformat(),
            "completed_at": clock.at(lines[-1].at).isoformat(),
            "consistent_at_method": ("when pg_basebackup reported the WAL end point (the server's pg_backup_stop), "
                                     "timed by the database host's clock and moved onto the measurement clock"),
            "host_clock_offset_seconds": clock.offset_seconds,
            "bytes": _tree_bytes(destination),
            "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None,
            "tool_output": job.output_tail(6),
        }


def _tree_bytes(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


@dataclass(frozen=True)
class RestoreParams:
    target: str
    backup: str | None = None
    source: str | None = None
    start_timeout: float = 120.0

    def validate(self) -> None:
        if self.backup and self.source:
            raise ParamError("source", "give either backup (the key of a postgres.backup step) or source "
                                       "(a directory), not both")
        if self.source is not None and not self.source.startswith("/"):
            raise ParamError("source", f"must be an absolute path, got {self.source!r}")
        require_positive("start_timeout", self.start_timeout)


class PostgresRestore(Action[RestoreParams]):
    name = "postgres.restore"
    summary = ("Start a new cluster from a base backup (by default this drill's latest postgres.backup) in the "
               "target's data_dir and port; wait until it accepts connections.")
    Params = RestoreParams
    target_kind = "postgres"
    changes = "creates the target's data directory from the backup and starts a server on its port"

    def call_timeout(self, params: RestoreParams) -> float:
        return TOOL_TIMEOUT + 10

    def describe(self, params: RestoreParams, targets: dict[str, dict[str, Any]]) -> str:
        source = params.source or params.backup or "the backup an earlier step took"
        return f"restores {source} into a new data directory for {described_target(params.target, targets)} and starts it"

    def plan(self, params: RestoreParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        target.tool("pg_ctl")
        if target.exists_for_server_user(target.data_dir):
            raise ActionFailed(f"{target.data_dir} already exists; a restore never overwrites a data directory: give "
                               f"target {params.target!r} a new data_dir")
        if not target.path_writable_by_server_user(target.data_dir.parent):
            raise ActionFailed(f"{target.os_user!r} cannot write into {target.data_dir.parent}")
        source = params.source or (f"the backup taken by step {params.backup!r}" if params.backup
                                   else "the latest backup taken earlier in the drill")
        return {"would": f"copy {source} into {target.data_dir} and start it on {target.address}",
                "port_in_use_now": _port_in_use(target)}

    def run(self, params: RestoreParams, ctx: StepContext) -> Outcome:
        return self._advance(params, ctx, fresh_attempt=True)

    def poll(self, params: RestoreParams, ctx: StepContext) -> Outcome:
        return self._advance(params, ctx, fresh_attempt=False)

    def _advance(self, params: RestoreParams, ctx: StepContext, *, fresh_attempt: bool) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        workdir = StepWorkdir(ctx)
        backup, backup_evidence = self._backup(params, ctx)
        started_at = workdir.read_note("start")
        if target.server_running():
            return self._check_started(params, target, backup, backup_evidence, started_at, ctx)
        if started_at is not None:
            if (ctx.now() - started_at).total_seconds() < START_GRACE_SECONDS:
                return PollAgain(after_seconds=0.2)  # pg_ctl -W returned before the postmaster wrote its pid file
            raise ActionFailed(f"the server restored into {target.data_dir} stopped while starting: "
                               f"{target.server_log_tail()}")
        copy = workdir.job("copy")
        status = copy.status
        staging = target.data_dir.with_name(target.data_dir.name + ".restoring")
        if status in ("failed", "lost") and fresh_attempt:
            copy.set_aside()
            status = "absent"
        if status == "absent":
            if target.exists_for_server_user(target.data_dir):
                raise ActionFailed(f"{target.data_dir} already exists and this step did not create it; a restore never "
                                   f"overwrites a data directory: give target {params.target!r} a new data_dir")
            if _port_in_use(target):
                raise ActionFailed(f"{target.address} is already served by another server; stop it first (e.g. with "
                                   "postgres.fault) or restore to another port; nothing was changed")
            if not target.exists_for_server_user(backup):
                raise ActionFailed(f"the backup {backup} does not exist (or {target.os_user!r} cannot read it)")
            # Copy beside, then rename: a half-copied directory never looks like a restored one. The
            # staging folder belongs to restores of this data_dir: what a failed one left is dropped.
            copy.start(target.as_server_user([
                "sh", "-c", 'rm -rf "$2" && cp -a "$1" "$2" && mv "$2" "$3"', "sh", str(backup), str(staging),
                str(target.data_dir),
            ]))
            return PollAgain(after_seconds=0.2)
        if status == "running":
            return PollAgain(after_seconds=0.2)
        if status != "succeeded":
            raise ActionFailed(f"copying the backup {backup} into {target.data_dir} failed: {copy.output_tail()}")
        target.set_port_in_auto_conf()
        workdir.note("start", ctx.now())
        target.start_server()
        return PollAgain(after_seconds=0.2)

    def _backup(self, params: RestoreParams, ctx: StepContext) -> tuple[Path, dict[str, Any] | None]:
        if params.source:
            return Path(params.source), None
        if params.backup:
            evidence = ctx.earlier.get(params.backup)
            if not evidence or "consistent_lsn" not in evidence:
                raise ActionFailed(f"no postgres.backup step with key {params.backup!r} finished earlier in this drill")
            return Path(evidence["path"]), evidence
        backups = [ev for ev in ctx.earlier.values() if "consistent_lsn" in ev and ev.get("path")]
        if not backups:
            raise ActionFailed("no postgres.backup step finished earlier in this drill; add one before this step, "
                               "or give params.source")
        return Path(backups[-1]["path"]), backups[-1]

    def _check_started(self, params: RestoreParams, target: PgTarget, backup: Path, backup_evidence: dict[str, Any] | None,
                       started_at: datetime | None, ctx: StepContext) -> Outcome:
        if started_at is None:
            raise ActionFailed(f"a server already runs from {target.data_dir}, and this step did not start it; a restore "
                               f"needs a new data_dir for target {params.target!r}; nothing was changed")
        try:
            conn = target.connect()
        except ActionFailed as error:
            if (ctx.now() - started_at).total_seconds() > params.start_timeout:
                raise ActionFailed(f"the restored server does not accept connections after {params.start_timeout:.0f} s: "
                                   f"{error}; server log: {target.server_log_tail()}") from None
            return PollAgain(after_seconds=0.2)
        with conn:
            accepting_at = ctx.now()
            served = data_directory(conn)
            if served is not None and os.path.realpath(served) != os.path.realpath(target.data_dir):
                raise ActionFailed(f"{target.address} is served from {served}, not from the restored {target.data_dir}; "
                                   "nothing was changed")
            role = "standby" if in_recovery(conn) else "primary"
            current_timeline = timeline(conn)
        return Done(evidence={
            "restored": target.name,
            "address": target.address,
            "data_dir": str(target.data_dir),
            "from": str(backup),
            "backup_consistent_lsn": (backup_evidence or {}).get("consistent_lsn"),
            "backup_consistent_at": (backup_evidence or {}).get("consistent_at"),
            "server_started_at": started_at.isoformat(),
            "accepting_connections_at": accepting_at.isoformat(),
            "role": role,
            "timeline": current_timeline,
            "server_log": str(target.server_log),
        }, marks={"service_restored": accepting_at})


def _port_in_use(target: PgTarget) -> bool:
    host = target.hosts[0] if target.hosts else "127.0.0.1"
    try:
        with socket.create_connection((host, target.first_port), timeout=2):
            return True
    except OSError:
        return False
