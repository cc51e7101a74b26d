"""A worker killed in the middle of a step, or the same message delivered twice: the step still
completes exactly once and the timeline keeps every event."""

from __future__ import annotations

import os
import signal

import pytest
from celery import current_app

from drills.models import Drill, DrillEvent, StepRun
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker


def test_a_worker_killed_mid_step_is_recovered_and_the_step_completes_once(worker, import_yaml, start_drill, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Fail over the load balancer
        action: http.request
        params: {{url: "{service.url}/apply?slow=2", method: POST, timeout: 5}}
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    drill = start_drill("drill-under-test")
    assert service.slow_request_arrived.wait(30), "the step never reached the service"
    step = drill.step_runs.get(position=1)
    step.refresh_from_db()
    assert step.status == StepRun.Status.RUNNING
    pid = int(step.worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)

    drill = wait_for_drill(drill, timeout=90)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    step.refresh_from_db()
    assert step.status == StepRun.Status.SUCCEEDED
    assert step.attempt == 2
    assert step.worker != f"{step.worker.rsplit(':', 1)[0]}:{pid}"
    # The failover call was sent again with the same idempotency key: applied once.
    assert len(service.applied) == 1
    events = list(DrillEvent.objects.filter(drill=drill).values_list("kind", "step_run__position"))
    assert events.count(("step.succeeded", 1)) == 1
    assert events.count(("step.reclaimed", 1)) == 1
    assert events.count(("step.started", 1)) == 1
    assert events[0][0] == "drill.started" and events[-1][0] == "drill.succeeded"


def test_the_same_step_message_delivered_twice_runs_once(worker, import_yaml, orders_db, service, coordinator):
    from drills.services import drill_start
    from runbooks.models import Runbook

    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Fail over the load balancer
        action: http.request
        params: {{url: "{service.url}/apply?slow=1", method: POST}}
"""))
    version = Runbook.objects.get(slug="drill-under-test").latest_version
    drill = drill_start(runbook_version=version, user=coordinator)
    step = drill.step_runs.get()
    # The engine sends one message itself; send two more copies of it at once.
    current_app.send_task("drills.tasks.run_step", args=[step.pk])
    current_app.send_task("drills.tasks.run_step", args=[step.pk])

    drill = wait_for_drill(drill)
    wait_until(lambda: service.count("/apply") >= 1)
    import time
    time.sleep(3)  # let the duplicates be consumed

    assert drill.status == Drill.Status.SUCCEEDED
    assert service.count("/apply") == 1
    step.refresh_from_db()
    assert step.attempt == 1
    assert DrillEvent.objects.filter(drill=drill, kind="step.started").count() == 1
