"""SQLite targets: online backup, restore, fault injection and the canary writer.

Backups use SQLite's online backup API, so a database in use is copied consistently. A restore
never writes into the live file: it builds the restored copy beside it and renames it into place,
so a worker killed half-way leaves the target as it was and the redelivered step simply redoes it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, ParamError, StepContext, require_positive
from ..policy import FileAccess

CANARY_TABLE = "drdrill_canary"


def _target_path(ctx: StepContext, target: str) -> Path:
    binding = ctx.target(target)
    if binding.get("kind") != "sqlite" or not binding.get("path"):
        raise ActionFailed(f"target {target!r} is not a sqlite target with a path")
    return Path(binding["path"])


def _connect_existing(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    # mode=rw/ro: never create an empty database where the real one is missing.
    mode = "ro" if readonly else "rw"
    try:
        return sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=5)
    except sqlite3.OperationalError as error:
        raise ActionFailed(f"cannot open SQLite database {path}: {error}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _newest_canary(conn: sqlite3.Connection, drill_id: int) -> dict[str, Any] | None:
    try:
        row = conn.execute(
            f"SELECT seq, written_at FROM {CANARY_TABLE} WHERE drill_id = ? ORDER BY seq DESC LIMIT 1", (drill_id,)
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    return {"seq": row[0], "written_at": row[1]} if row else None


def _described_path(target: str, targets: dict[str, dict[str, Any]]) -> str:
    path = targets.get(target, {}).get("path")
    return f"{path} (target {target!r})" if path else f"of target {target!r}"


@dataclass(frozen=True)
class BackupParams:
    target: str
    destination: str | None = None
    timeout: float = 120.0

    def validate(self) -> None:
        require_positive("timeout", self.timeout)


class SqliteBackup(Action[BackupParams]):
    name = "sqlite.backup"
    summary = "Copy a live SQLite database with the online backup API; records the backup's consistent point."
    Params = BackupParams
    target_kind = "sqlite"
    changes = "writes a new backup file; the database itself is only read"

    def call_timeout(self, params: BackupParams) -> float:
        return params.timeout

    def destination(self, params: BackupParams, ctx: StepContext) -> Path:
        if params.destination:
            return Path(params.destination)
        source = _target_path(ctx, params.target)
        return source.with_name(f"{source.name}.drill-{ctx.drill_id}-{ctx.step_key}.bak")

    def describe(self, params: BackupParams, targets: dict[str, dict[str, Any]]) -> str:
        where = f" into {params.destination}" if params.destination else " next to it"
        return f"copies the SQLite database {_described_path(params.target, targets)}{where} (online backup)"

    def touches(self, params: BackupParams, ctx: StepContext) -> list[Any]:
        return [FileAccess(str(self.destination(params, ctx)), write=True, purpose="the backup")]

    def plan(self, params: BackupParams, ctx: StepContext) -> dict[str, Any]:
        source = _target_path(ctx, params.target)
        conn = _connect_existing(source, readonly=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
        destination = self.destination(params, ctx)
        if not os.access(destination.parent, os.W_OK):
            raise ActionFailed(f"cannot write the backup into {destination.parent}")
        return {"would": f"back up {source} to {destination}", "source_bytes": source.stat().st_size}

    def run(self, params: BackupParams, ctx: StepContext) -> Outcome:
        source_path = _target_path(ctx, params.target)
        destination = self.destination(params, ctx)
        partial = destination.with_name(destination.name + ".partial")
        source = _connect_existing(source_path, readonly=True)
        try:
            partial.unlink(missing_ok=True)
            copy = sqlite3.connect(partial)
            try:
                started = ctx.now()
                source.backup(copy)
                # The backup API copies one consistent snapshot; its point is when the copy ended.
                consistent_at = ctx.now()
                newest = _newest_canary(copy, ctx.drill_id)
            finally:
                copy.close()
        except sqlite3.Error as error:
            raise ActionFailed(f"backup of {source_path} failed: {error}") from None
        finally:
            source.close()
        os.replace(partial, destination)
        return Done(evidence={
            "backup_of": params.target,
            "source": str(source_path),
            "path": str(destination),
            "bytes": destination.stat().st_size,
            "sha256": file_sha256(destination),
            "started_at": started.isoformat(),
            "consistent_at": consistent_at.isoformat(),
            "newest_canary_in_backup": newest,
        })


@dataclass(frozen=True)
class RestoreParams:
    target: str
    source: str | None = None
    timeout: float = 120.0

    def validate(self) -> None:
        require_positive("timeout", self.timeout)


class SqliteRestore(Action[RestoreParams]):
    name = "sqlite.restore"
    summary = "Restore a SQLite database from a backup (by default this drill's latest backup of the target)."
    Params = RestoreParams
    target_kind = "sqlite"
    changes = "replaces the target database file with the backup's content"

    def call_timeout(self, params: RestoreParams) -> float:
        return params.timeout

    def backup_path(self, params: RestoreParams, ctx: StepContext) -> Path:
        if params.source:
            return Path(params.source)
        backups = [ev for ev in ctx.earlier.values() if ev.get("backup_of") == params.target and ev.get("path")]
        if not backups:
            raise ActionFailed(
                f"no backup of target {params.target!r} was taken earlier in this drill; "
                "add a sqlite.backup step before this one or give params.source"
            )
        return Path(backups[-1]["path"])

    def describe(self, params: RestoreParams, targets: dict[str, dict[str, Any]]) -> str:
        source = params.source or "the backup an earlier step took"
        return f"replaces {_described_path(params.target, targets)} with {source}"

    def touches(self, params: RestoreParams, ctx: StepContext) -> list[Any]:
        return [FileAccess(params.source, purpose="the backup to restore")] if params.source else []

    def plan(self, params: RestoreParams, ctx: StepContext) -> dict[str, Any]:
        target = _target_path(ctx, params.target)
        if not os.access(target.parent, os.W_OK):
            raise ActionFailed(f"cannot write into {target.parent}")
        if params.source and not Path(params.source).exists():
            raise ActionFailed(f"backup file {params.source} does not exist")
        source = params.source or "the backup taken earlier in the drill"
        return {"would": f"replace {target} with {source}"}

    def run(self, params: RestoreParams, ctx: StepContext) -> Outcome:
        target = _target_path(ctx, params.target)
        backup = self.backup_path(params, ctx)
        ctx.allow(FileAccess(str(backup), purpose="the backup to restore"))
        if not backup.exists():
            raise ActionFailed(f"backup file {backup} does not exist")
        backup_sha = file_sha256(backup)
        # Redelivered after a restore that completed: the target already holds the backup. Check the
        # real state and do not restore twice.
        if target.exists() and not Path(f"{target}-wal").exists() and file_sha256(target) == backup_sha:
            return Done(evidence=self._evidence(target, backup, backup_sha, ctx, already=True))
        staging = target.with_name(target.name + ".restoring")
        staging.unlink(missing_ok=True)
        try:
            source = _connect_existing(backup, readonly=True)
            copy = sqlite3.connect(staging)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
        except sqlite3.Error as error:
            raise ActionFailed(f"restore from {backup} failed: {error}") from None
        # A stale write-ahead log beside the new file would be replayed into it: remove it first.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(staging, target)
        return Done(evidence=self._evidence(target, backup, backup_sha, ctx, already=False))

    def _evidence(self, target: Path, backup: Path, sha: str, ctx: StepContext, *, already: bool) -> dict[str, Any]:
        return {
            "restored": str(target),
            "from": str(backup),
            "sha256": sha,
            "restored_at": ctx.now().isoformat(),
            "already_restored": already,
        }


@dataclass(frozen=True)
class FaultParams:
    target: str
    mode: str = "delete"

    def validate(self) -> None:
        if self.mode not in {"delete", "corrupt"}:
            raise ParamError("mode", f"must be 'delete' or 'corrupt', got {self.mode!r}")


class SqliteFault(Action[FaultParams]):
    name = "sqlite.fault"
    summary = "Inject the disaster: delete or corrupt the SQLite database file (mark it outage_start)."
    Params = FaultParams
    target_kind = "sqlite"
    changes = "destroys the target database file"

    def describe(self, params: FaultParams, targets: dict[str, dict[str, Any]]) -> str:
        verb = "deletes" if params.mode == "delete" else "corrupts"
        return f"{verb} the database file {_described_path(params.target, targets)}: the outage"

    def plan(self, params: FaultParams, ctx: StepContext) -> dict[str, Any]:
        target = _target_path(ctx, params.target)
        if not target.exists():
            raise ActionFailed(f"{target} does not exist; nothing to fail")
        return {"would": f"{params.mode} {target}"}

    def run(self, params: FaultParams, ctx: StepContext) -> Outcome:
        target = _target_path(ctx, params.target)
        existed = target.exists()
        if params.mode == "delete":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        elif existed:
            with target.open("r+b") as handle:
                handle.write(b"\0" * 100)  # wipe the header: SQLite no longer recognises the file
        at = ctx.now()
        return Done(evidence={"target": str(target), "mode": params.mode, "file_existed": existed,
                              "fault_at": at.isoformat()},
                    marks={"outage_start": at})


class SqliteCanary:
    """Writes (drill, sequence, time) rows into the target while a drill runs; after recovery the
    newest surviving row tells how much data the recovered copy lost (the RPO)."""

    def __init__(self, binding: dict[str, Any]) -> None:
        self.path = Path(binding["path"])

    def describe(self) -> str:
        return f"sqlite {self.path} table {CANARY_TABLE}"

    def check(self) -> None:
        _connect_existing(self.path).close()

    def write(self, drill_id: int, seq: int, written_at: datetime) -> None:
        conn = _connect_existing(self.path)
        try:
            with conn:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {CANARY_TABLE} "
                    "(drill_id INTEGER NOT NULL, seq INTEGER NOT NULL, written_at TEXT NOT NULL, PRIMARY KEY (drill_id, seq))"
                )
                conn.execute(f"INSERT OR REPLACE INTO {CANARY_TABLE} VALUES (?, ?, ?)",
                             (drill_id, seq, written_at.isoformat()))
        except sqlite3.Error as error:
            raise ActionFailed(f"canary write to {self.path} failed: {error}") from None
        finally:
            conn.close()

    def newest(self, drill_id: int) -> dict[str, Any] | None:
        conn = _connect_existing(self.path, readonly=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return _newest_canary(conn, drill_id)
        except sqlite3.DatabaseError as error:
            raise ActionFailed(f"cannot read the canary from {self.path}: {error}") from None
        finally:
            conn.close()
