"""Real Celery worker processes on the test database, as a deployment runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def database_url_of_test_db() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}@{host}:{s.get('PORT') or 5432}/{s['NAME']}"


class WorkerPool:
    """A real ``celery worker`` process with prefork children, on the test database: by default with
    the embedded beat, serving the default queue; or, for a site of its own, serving ``queues``."""

    def __init__(self, env: dict[str, str], log_path: Path, *, queues: str | None = None, node: str | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.queues = queues
        self.node = node or f"test-{os.getpid()}@%h"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        # Beat runs once, with the default worker; a worker of its own site only serves its queues.
        extra = (["-Q", self.queues] if self.queues else
                 ["--beat", "--schedule", str(Path(self.env["DRDRILL_DATA_DIR"]) / "celerybeat-schedule")])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "3",
             "--loglevel", "INFO", "-n", self.node, *extra],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited: see {self.log_path}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker did not get ready in 60 s: see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # The main process alone, as a service manager stops a worker: it stops its pool
            # itself. A SIGTERM to the whole group kills the pool processes under it, one of them
            # may hold the pool's queue lock, and the main process then waits for it until killed.
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.log_path.write_bytes(self.log_path.read_bytes().replace(b"ready.", b"ready-before-restart."))
        self.start()


def purge_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)


def write_test_policy(path: Path) -> Path:
    """The test workers' execution policy, as an operator would write one: the tests' files live in
    the temporary folder (pytest's folders, the PostgreSQL test clusters), their services on loopback,
    the PostgreSQL tools run as postgres, and the secrets steps refer to are named."""
    path.write_text(yaml.safe_dump({
        "files": [tempfile.gettempdir()],
        "network": ["127.0.0.1", "localhost", "::1"],
        "programs": {"bin_dirs": [os.environ.get("DRDRILL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")],
                     "os_users": ["postgres"]},
        "environment": ["ORDERS_API_TOKEN", "DRDRILL_TEST_PG_*"],
        # The accounts the cloud tests act in: moto's default account (and one whose credentials the
        # worker lacks, to show that check too), the ARM fake's subscription.
        "cloud": {"aws": {"accounts": ["123456789012", "210987654321"], "regions": ["*"]},
                  "azure": {"subscriptions": ["00000000-0000-0000-0000-000000000000"], "regions": ["*"]}},
    }))
    return path
