"""Shared fixtures: real Celery worker processes, a controllable local HTTP service, the demo
orders system on a real SQLite file, and drill helpers (tests/support/).

Tests run on PostgreSQL and Redis when DATABASE_URL / CELERY_BROKER_URL point at them, and on the
embedded defaults (SQLite, the filesystem broker) otherwise; CI runs the suite both ways. A test of
something only one backend has (a PostgreSQL trigger, a Redis restart) is marked ``postgres`` or
``redis`` and runs in the pass that has it: the other pass deselects it and says so. With
DRDRILL_TESTS_STRICT=1 (CI) a skipped test fails the run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.support.http_service import ControlledService
from tests.support.scenarios import ORDERS_TOKEN, ORDERS_TOKEN_VARIABLE
from tests.support.workers import WorkerPool, database_url_of_test_db, purge_broker, write_test_policy

STRICT = os.environ.get("DRDRILL_TESTS_STRICT") == "1"
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
ON_REDIS = os.environ.get("CELERY_BROKER_URL", "").startswith("redis://")
BACKEND_MARKERS = {"postgres": (ON_POSTGRES, "PostgreSQL (DATABASE_URL)"), "redis": (ON_REDIS, "Redis (CELERY_BROKER_URL)")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of one backend's own behaviour run in the pass that uses it; the other pass leaves them
    out, and says how many and why, rather than skipping them."""
    kept, left_out = [], {}
    for item in items:
        missing = [label for marker, (present, label) in BACKEND_MARKERS.items()
                   if item.get_closest_marker(marker) and not present]
        if missing:
            left_out.setdefault(", ".join(missing), []).append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=[i for group in left_out.values() for i in group])
        items[:] = kept
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for needs, group in left_out.items():
            if reporter:
                reporter.write_line(f"{len(group)} test(s) of {needs} behaviour run in the pass on that backend: "
                                    + ", ".join(i.nodeid.rsplit('::', 1)[-1] for i in group))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if STRICT and skipped and exitstatus == 0:
        # CI promises every test ran: a skip there is a failure.
        reporter.write_line(f"DRDRILL_TESTS_STRICT: {skipped} test(s) skipped; failing the run", red=True)
        session.exitstatus = 1


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
        "DRDRILL_HEARTBEAT_SECONDS": "1",
        # The programme's beat tick every second and notification retries after 1, 2 s, so planned
        # drills and failing receivers are tested in seconds.
        "DRDRILL_PROGRAMME_TICK_SECONDS": "1",
        "DRDRILL_NOTIFY_RETRY_SECONDS": "1",
        "DRDRILL_NOTIFY_MAX_RETRIES": "2",
        "PYTHONUNBUFFERED": "1",
        # A secret the workers hold, as a deployment would give them one: steps refer to it by name.
        ORDERS_TOKEN_VARIABLE: ORDERS_TOKEN,
    })
    env["DRDRILL_WORKER_POLICY"] = str(write_test_policy(tmp_path_factory.mktemp("policy") / "worker-policy.yaml"))
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
