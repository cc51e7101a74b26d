"""What the bench scripts share: a database and broker of their own, worker processes they start
and stop themselves, percentiles, and a line saying on what machine, under what load, a figure was
measured. Nothing here is imported by drdrill itself.

Defaults keep benches away from the databases tests use: PostgreSQL database ``drdrill_bench`` and
Redis database 10. ``--database-url`` / ``--redis-url`` (or BENCH_DATABASE_URL / BENCH_REDIS_URL)
point elsewhere.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/drdrill_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"


def arguments(description: str, *, brokers: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    if brokers:
        parser.add_argument("--broker", choices=("redis", "filesystem"), default=os.environ.get("BENCH_BROKER", "redis"),
                            help="Redis, or Celery's embedded filesystem broker (default: $BENCH_BROKER or redis)")
        parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--database", choices=("postgres", "sqlite"), default=os.environ.get("BENCH_DATABASE", "postgres"),
                        help="PostgreSQL, or the embedded SQLite file (default: $BENCH_DATABASE or postgres)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
                        help=f"the PostgreSQL database to use, created if missing (default {DEFAULT_DATABASE_URL})")
    parser.add_argument("--connection-per-task", action="store_true",
                        help="compare: workers open a database connection for every task (DRDRILL_CONN_MAX_AGE=0), "
                             "as before connections were kept")
    return parser


def configure(name: str, options: argparse.Namespace, **environment: str) -> dict[str, str]:
    """Point this process and the workers it starts at the bench's database and broker, migrate,
    and set Django up. Returns the environment for worker processes."""
    broker = getattr(options, "broker", "filesystem")  # pages need no broker
    data_dir = ROOT / "var" / f"bench-{name}-{broker}-{options.database}"
    os.environ["DRDRILL_DATA_DIR"] = str(data_dir)
    if options.database == "postgres":
        create_database(options.database_url)
        os.environ["DATABASE_URL"] = options.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["CELERY_BROKER_URL"] = options.redis_url if broker == "redis" else "filesystem://"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if options.connection_per_task:
        os.environ["DRDRILL_CONN_MAX_AGE"] = "0"
    os.environ["PYTHONUNBUFFERED"] = "1"
    os.environ.update(environment)
    if broker == "filesystem":
        shutil.rmtree(data_dir / "broker", ignore_errors=True)

    import django
    from django.core.management import call_command

    django.setup()
    # The bench prints figures; the engine's own event log lines stay in the workers' logs.
    logging.getLogger("drdrill").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    if broker == "redis":
        purge_broker()
    return dict(os.environ)


def create_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username,
                         password=parts.password, dbname="postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def purge_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)


def superuser() -> Any:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    user = users.filter(username="bench").first()
    return user or users.create_superuser("bench", email="", password=None)


# --- worker processes -------------------------------------------------------------------------------

@dataclass
class Worker:
    """One ``celery worker`` of the bench app (drdrill's app plus the no-op task), in a process
    group of its own so that stopping it stops its children and its beat."""

    name: str
    concurrency: int
    beat: bool
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    def start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "bench.tasks", "worker", "--pool", "prefork",
                   "--concurrency", str(self.concurrency), "--loglevel", "WARNING", "-n", self.node]
        if self.beat:
            command += ["--beat", "--schedule", str(Path(self.env["DRDRILL_DATA_DIR"]) / "celerybeat-schedule")]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log_path.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: see {self.log_path}")
            if app.control.ping(destination=[self.node], timeout=0.5):
                return
        raise RuntimeError(f"worker {self.name} did not answer a ping in {timeout:.0f} s: see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # The main process alone: it stops its pool itself (a SIGTERM to the group can leave it
        # waiting on a queue lock a killed pool process held).
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def memory(self) -> dict[str, float]:
        """Memory of the worker's process group, in MiB. PSS (proportional set size) shares each page
        among the processes that map it, so the sum is what the group really costs; the sum of RSS
        counts every page shared after fork once per process."""
        pids = process_group(self.process.pid) if self.process else []
        now = sum(status_kib(pid, "VmRSS") for pid in pids) / 1024
        peak = sum(status_kib(pid, "VmHWM") for pid in pids) / 1024
        return {"processes": len(pids), "rss_mib": now, "peak_rss_mib": peak,
                "pss_mib": sum(pss_kib(pid) for pid in pids) / 1024,
                "main_rss_mib": status_kib(self.process.pid, "VmRSS") / 1024 if self.process else 0.0}


def start_workers(count: int, *, concurrency: int, env: dict[str, str], label: str) -> list[Worker]:
    """``count`` workers; the first also runs beat (drdrill runs exactly one beat)."""
    log_dir = Path(env["DRDRILL_DATA_DIR"]) / "logs"
    workers = [Worker(f"bench-{label}-{i + 1}-{os.getpid()}", concurrency, i == 0, env, log_dir / f"worker-{i + 1}.log")
               for i in range(count)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        worker.stop()


def process_group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- figures -------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """The p-th percentile by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary_ms(values_seconds: list[float]) -> str:
    ms = [v * 1000 for v in values_seconds]
    return (f"n={len(ms)} p50 {percentile(ms, 50):7.2f} ms  p95 {percentile(ms, 95):7.2f} ms  "
            f"p99 {percentile(ms, 99):7.2f} ms  mean {statistics.fmean(ms):7.2f} ms")


def machine() -> str:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    from django.db import connection

    database = connection.vendor
    if database == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database += " " + cursor.fetchone()[0].split()[0]
    from django.conf import settings

    connections = "persistent" if settings.DATABASES["default"].get("CONN_MAX_AGE") else "one per task"
    return (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {database} (worker connections: "
            f"{connections}), broker {broker_description()}, load average {load} (1/5/15 min)")


def broker_description() -> str:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        return "filesystem"
    import redis

    version = redis.Redis.from_url(url).info("server")["redis_version"]
    return f"Redis {version}"


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
