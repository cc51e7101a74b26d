"""Steps routed to a worker beside their target: a binding names the queue its steps must run on; only
a worker serving that queue runs them (the others hand them on, even when they would otherwise go
straight on into the next step), and while no worker serves it the step waits and the drill page
says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from drills.models import Drill, StepRun
from tests.support.waiting import wait_for_drill, wait_until
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.worker

SITE = "site-b"


def system_and_runbook(db_path: Path, url: str) -> str:
    return f"""
systems:
  - slug: orders
    name: Orders
    environment: staging
    tier: 2
    targets:
      db: {{kind: sqlite, path: "{db_path}", queue: {SITE}}}
      web: {{kind: http, url: "{url}"}}
runbooks:
  - slug: routed
    title: Back up beside the database
    system: orders
    kind: backup_restore
    steps:
      - name: Check the service
        action: http.request
        params: {{target: web, path: /health}}
      - name: Back up the database on its own host
        action: sqlite.backup
        params: {{target: db}}
      - name: Check the service again
        action: http.request
        params: {{target: web, path: /health}}
"""


@pytest.fixture
def site_worker(worker: WorkerPool, tmp_path: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(worker.env, tmp_path / "site-b.log", queues=SITE, node=f"site-b-{tmp_path.name}@%h")
    pool.start()
    yield pool
    pool.stop()


def pids(pool: WorkerPool) -> set[int]:
    """The worker's main process and its pool processes."""
    import subprocess

    children = subprocess.run(["pgrep", "-P", str(pool.process.pid)], capture_output=True, text=True).stdout.split()
    return {pool.process.pid, *map(int, children)}


def worker_pid(run: StepRun) -> int:
    return int(run.worker.rsplit(":", 1)[1])


def test_a_step_bound_to_a_queue_runs_only_on_the_worker_serving_it(worker, site_worker, import_yaml, start_drill,
                                                                     orders_db, service):
    import_yaml(system_and_runbook(orders_db, service.url))
    drill = wait_for_drill(start_drill("routed"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    first, routed, last = drill.step_runs.order_by("position")
    assert worker_pid(routed) in pids(site_worker)
    assert worker_pid(first) in pids(worker) and worker_pid(last) in pids(worker)
    assert routed.started_at >= first.finished_at and last.started_at >= routed.finished_at


def test_with_no_worker_for_its_queue_a_step_waits_says_why_and_runs_when_one_returns(worker, site_worker, import_yaml,
                                                                                      start_drill, orders_db, service,
                                                                                      coordinator, settings):
    settings.DRDRILL_HEARTBEAT_SECONDS = 1.0  # as the test workers beat
    import_yaml(system_and_runbook(orders_db, service.url))
    site_worker.stop()
    drill = start_drill("routed")
    routed = drill.step_runs.get(position=2)
    client = Client()
    client.force_login(coordinator)
    wait_until(lambda: "No worker for queue" in client.get(f"/drills/{drill.pk}/").content.decode(), timeout=30,
               message="the drill page to say no worker serves the queue")
    routed.refresh_from_db()
    assert routed.status == StepRun.Status.PENDING and routed.attempt == 0

    site_worker.start()
    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    routed.refresh_from_db()
    assert worker_pid(routed) in pids(site_worker)
    assert "No worker for queue" not in client.get(f"/drills/{drill.pk}/").content.decode()
