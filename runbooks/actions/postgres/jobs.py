"""Long server-control commands (pg_basebackup, pg_rewind, copying a backup) run detached from the
worker, so no call outlives its time limit and a killed worker does not kill the command.

Each step run gets a folder on the database host (under the drdrill data folder, named by the step
run's idempotency key, so a redelivered step finds what its predecessor started). A job there keeps:
- ``pid``: the wrapper shell, to tell a running job from one whose host restarted;
- ``log``: every output line of the command, prefixed with the host clock's epoch time at the moment
  the line was written, ending with ``drdrill-exit <code>``. Line times are how a backup's consistent
  point is timed (the moment pg_basebackup reported its WAL end point), to the millisecond.
Notes (small files) record intent before an action acts: "stop requested at T". A redelivered step
reads them to tell its own earlier work from a state it did not cause.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from django.conf import settings

from ..base import StepContext

EXIT_MARK = "drdrill-exit "
# The wrapper: record its pid, run the command, stamp every output line with the host clock.
JOB_BODY = r"""echo $$ > "$DRDRILL_JOB/pid"
{ "$@" 2>&1; echo "drdrill-exit $?"; } </dev/null | while IFS= read -r line; do
  printf '%s %s\n' "$(date +%s.%N)" "$line"
done >> "$DRDRILL_JOB/log"
"""
# Started through a shell that exits at once, so the wrapper is re-parented and never a zombie of
# the worker; start_new_session keeps it out of the worker's process group.
LAUNCH = 'sh -c "$DRDRILL_JOB_BODY" drdrill-job "$@" </dev/null >/dev/null 2>&1 &'


@dataclass(frozen=True)
class LogLine:
    at: float  # host clock, seconds since the epoch
    text: str


class Job:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def name(self) -> str:
        return self.folder.name

    def exists(self) -> bool:
        return self.folder.exists()

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        # mkdir fails if the job exists: one start per job, whoever asks.
        self.folder.mkdir()
        full_env = {**os.environ, **(env or {}), "DRDRILL_JOB": str(self.folder), "DRDRILL_JOB_BODY": JOB_BODY}
        subprocess.run(["sh", "-c", LAUNCH, "sh", *argv], env=full_env, cwd="/", start_new_session=True,
                       check=True, timeout=10)

    def lines(self) -> list[LogLine]:
        try:
            raw = (self.folder / "log").read_text(errors="replace")
        except FileNotFoundError:
            return []
        result = []
        for line in raw.splitlines():
            stamp, _, text = line.partition(" ")
            try:
                result.append(LogLine(float(stamp), text))
            except ValueError:
                continue
        return result

    def exit_code(self) -> int | None:
        for line in reversed(self.lines()):
            if line.text.startswith(EXIT_MARK):
                return int(line.text[len(EXIT_MARK):])
        return None

    def running(self) -> bool:
        if self.exit_code() is not None:
            return False
        try:
            pid = int((self.folder / "pid").read_text())
        except (FileNotFoundError, ValueError):
            # Launched a moment ago and not yet written its pid, or never started.
            return self.folder.exists() and _age_seconds(self.folder) < 10
        try:
            return b"drdrill-job" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    @property
    def status(self) -> str:
        """``absent``, ``running``, ``succeeded``, ``failed``, or ``lost`` (gone without an exit code)."""
        if not self.exists():
            return "absent"
        code = self.exit_code()
        if code is None:
            return "running" if self.running() else "lost"
        return "succeeded" if code == 0 else "failed"

    def output_tail(self, count: int = 4) -> str:
        lines = [line.text for line in self.lines() if not line.text.startswith(EXIT_MARK) and line.text.strip()]
        return " | ".join(lines[-count:]) or "(no output)"

    def first_line_with(self, fragment: str) -> LogLine | None:
        return next((line for line in self.lines() if fragment in line.text), None)

    def set_aside(self) -> None:
        """Keep a failed job's folder for the record and make room for a fresh start."""
        number = 1
        while self.folder.with_name(f"{self.name}.failed-{number}").exists():
            number += 1
        self.folder.rename(self.folder.with_name(f"{self.name}.failed-{number}"))


def _age_seconds(path: Path) -> float:
    return datetime.now().timestamp() - path.stat().st_mtime


class StepWorkdir:
    """The folder of one step run on this host: its jobs and its notes."""

    def __init__(self, ctx: StepContext) -> None:
        self.folder = Path(settings.DATA_DIR) / "postgres-steps" / ctx.idempotency_key
        self._now = ctx.now

    def job(self, name: str) -> Job:
        return Job(self.folder / name)

    def note(self, name: str, at: datetime) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.note"
        path.with_suffix(".tmp").write_text(at.isoformat())
        path.with_suffix(".tmp").replace(path)

    def read_note(self, name: str) -> datetime | None:
        try:
            return datetime.fromisoformat((self.folder / f"{name}.note").read_text())
        except FileNotFoundError:
            return None

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class HostClock:
    """Turns host-clock epoch times (job log lines) into the measurement clock's times. The offset
    between the two is read now, back to back, and kept in the evidence."""

    def __init__(self, measurement_now: Callable[[], datetime]) -> None:
        before = datetime.now(timezone.utc)
        measured = measurement_now()
        after = datetime.now(timezone.utc)
        self.offset = measured - (before + (after - before) / 2)

    def at(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, timezone.utc) + self.offset

    @property
    def offset_seconds(self) -> float:
        return round(self.offset / timedelta(seconds=1), 6)
