"""Long server-control commands (pg_basebackup, pg_rewind, copying a backup) run detached from the
worker, so no call outlives its time limit and a killed worker does not kill the command.

Each step run gets a folder on the database host (under the temporary folder, private to the
worker's OS user, named by the step run's idempotency key and start time, so a redelivered step finds
what its predecessor started, and a retried step starts afresh). A job there keeps:
- ``pid``: the wrapper process, to tell a running job from one whose host restarted;
- ``log``: every output line of the command, prefixed with the host clock's epoch time at the moment
  the line was written, ending with ``drdrill-exit <code>``. Line times are how a backup's consistent
  point is timed (the moment pg_basebackup reported its WAL end point), to the millisecond.
Notes (small files) record intent before an action acts: "stop requested at T". A redelivered step
reads them to tell its own earlier work from a state it did not cause.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from ..base import ActionFailed, StepContext

EXIT_MARK = "drdrill-exit "
JOB_MARK = "drdrill-job"
# The wrapper, run by the worker's own Python: it detaches (forks, and the parent exits at once, so it
# is never a zombie of the worker), records its pid, runs the command and stamps each output line
# with the host clock as it arrives.
RUNNER = r"""
import os, subprocess, sys, time
if os.fork():
    os._exit(0)
folder, argv = sys.argv[2], sys.argv[3:]
with open(os.path.join(folder, "pid"), "w") as pid_file:
    pid_file.write(str(os.getpid()))
with open(os.path.join(folder, "log"), "a", buffering=1) as log:
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as error:
        log.write(f"{time.time():.6f} {error}\n{time.time():.6f} drdrill-exit 127\n")
        sys.exit()
    for line in process.stdout:
        log.write(f"{time.time():.6f} {line.rstrip()}\n")
    log.write(f"{time.time():.6f} drdrill-exit {process.wait()}\n")
"""


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
        # A session of its own: stopping the worker's process group does not stop the job.
        subprocess.run([sys.executable, "-c", RUNNER, JOB_MARK, str(self.folder), *argv], env={**os.environ, **(env or {})},
                       cwd="/", start_new_session=True, check=True, timeout=10, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

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
            return JOB_MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
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


def steps_root() -> Path:
    """This worker user's folder of step folders; refused if someone else owns it."""
    root = Path(tempfile.gettempdir()) / f"drdrill-postgres-steps-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.stat().st_uid != os.getuid() or root.is_symlink():
        raise ActionFailed(f"{root} belongs to another user; remove it so the worker can keep its step records there")
    return root


class StepWorkdir:
    """The folder of one step run on this host: its jobs and its notes."""

    def __init__(self, ctx: StepContext) -> None:
        # The step run's id, stable across redeliveries, and when it started: ids start again at 1
        # in a new drdrill database, and a retried step starts afresh.
        started = f"-{ctx.started_at:%Y%m%dT%H%M%S%f}" if ctx.started_at else ""
        self.folder = steps_root() / f"{ctx.idempotency_key}{started}"

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
