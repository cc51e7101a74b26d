"""Shared fixtures: real Celery worker processes, a controllable local HTTP service, the demo
orders system on a real SQLite file, and drill helpers.

Tests run on PostgreSQL and Redis when DATABASE_URL / CELERY_BROKER_URL point at them (CI does),
and on the embedded defaults (SQLite, the filesystem broker) otherwise. With DRDRILL_TESTS_STRICT=1
(CI) a skipped test fails the run, and the real services are required.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.http_service import ControlledService

ROOT = Path(__file__).resolve().parent.parent
ORDERS_TOKEN_VARIABLE = "ORDERS_API_TOKEN"
ORDERS_TOKEN = "tok-7f3a9c1e5b2d4f60"
STRICT = os.environ.get("DRDRILL_TESTS_STRICT") == "1"


def pytest_configure(config: pytest.Config) -> None:
    if STRICT:
        broker = os.environ.get("CELERY_BROKER_URL", "")
        database = os.environ.get("DATABASE_URL", "")
        if not broker.startswith("redis://") or not database.startswith(("postgres://", "postgresql://")):
            raise pytest.UsageError("DRDRILL_TESTS_STRICT=1 needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if STRICT and skipped and exitstatus == 0:
        # CI promises every test ran: a skip there is a failure.
        reporter.write_line(f"DRDRILL_TESTS_STRICT: {skipped} test(s) skipped; failing the run", red=True)
        session.exitstatus = 1


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
    """A real ``celery worker --beat`` process with prefork children, on the test database."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--pool", "prefork",
             "--concurrency", "3", "--loglevel", "INFO", "-n", f"test-{os.getpid()}@%h",
             "--schedule", str(Path(self.env["DRDRILL_DATA_DIR"]) / "celerybeat-schedule")],
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
            os.killpg(self.process.pid, signal.SIGTERM)
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


@pytest.fixture(scope="session")
def worker_pool(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with django_db_blocker.unblock():
        url = database_url_of_test_db()
    purge_broker()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url,
        "DRDRILL_DATA_DIR": str(settings.DATA_DIR),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        # Fast sweeps and short leases keep recovery tests quick; production defaults are longer.
        "DRDRILL_SWEEP_SECONDS": "1",
        "DRDRILL_LEASE_GRACE_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
        # A secret the workers hold, as a deployment would give them one: steps refer to it by name.
        ORDERS_TOKEN_VARIABLE: ORDERS_TOKEN,
    })
    pool = WorkerPool(env, tmp_path_factory.mktemp("worker") / "celery.log")
    pool.start()
    yield pool
    pool.stop()


@pytest.fixture
def worker(worker_pool: WorkerPool, transactional_db: Any) -> WorkerPool:
    """Tests that run drills through real workers use this: the data they write is committed, so the
    worker processes see it."""
    if worker_pool.process is None or worker_pool.process.poll() is not None:
        worker_pool.start()
    return worker_pool


@pytest.fixture
def service() -> Iterator[ControlledService]:
    svc = ControlledService()
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def coordinator(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("casey", password="correct-horse-battery-staple", is_superuser=True,
                                                 is_staff=True)


@pytest.fixture
def orders_db(tmp_path: Path) -> Path:
    from demo.orders_service import create_database

    path = tmp_path / "orders.sqlite3"
    create_database(path)
    os.chmod(tmp_path, 0o777)
    return path


@pytest.fixture
def orders_service(orders_db: Path) -> Iterator[str]:
    """The demo orders service on the test's database file, on a free port."""
    from http.server import ThreadingHTTPServer

    from demo.orders_service import make_handler

    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(orders_db))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def orders_system_yaml(db_path: Path, url: str, **overrides: Any) -> str:
    tier = overrides.get("tier", 2)
    return f"""
systems:
  - slug: orders
    name: Orders
    environment: staging
    tier: {tier}
    rto_target: {overrides.get('rto_target', '2m')}
    rpo_target: {overrides.get('rpo_target', '1m')}
    targets:
      db: {{kind: sqlite, path: "{db_path}"}}
      web: {{kind: http, url: "{url}"}}
"""


@pytest.fixture
def import_yaml(coordinator: Any):
    from runbooks.services import import_runbooks

    def _import(*texts: str):
        return import_runbooks(sources=[(f"test-{i}.yaml", t) for i, t in enumerate(texts)], user=coordinator)

    return _import


@pytest.fixture
def start_drill(coordinator: Any):
    from drills.services import drill_start
    from runbooks.models import Runbook

    def _start(slug: str, mode: str = "live"):
        version = Runbook.objects.get(slug=slug).latest_version
        return drill_start(runbook_version=version, user=coordinator, mode=mode)

    return _start


def wait_for_drill(drill: Any, statuses: tuple[str, ...] = ("succeeded", "failed", "aborted"), timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drill.refresh_from_db()
        if drill.status in statuses:
            return drill
        time.sleep(0.2)
    steps = [(s.position, s.status, s.error) for s in drill.step_runs.order_by("position")]
    raise AssertionError(f"drill {drill.pk} still {drill.status} after {timeout} s; steps: {steps}")


def wait_until(predicate: Any, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")
