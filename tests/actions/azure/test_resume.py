"""A worker is SIGKILLed while it looks at a running failover: the step is reclaimed after its
lease and the next worker follows the same operation with the continuation token the step kept.
Azure sees one failover started, and every status request is about that one operation."""

from __future__ import annotations

import os
import signal

import pytest

from drills.models import Drill, DrillEvent, StepRun
from tests.actions.azure.conftest import fast
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


def test_a_worker_killed_mid_poll_resumes_the_same_operation(azure_worker, arm, orders_sql, start_drill):
    orders_sql(fast("failover-group.yaml"))
    arm.in_progress_looks = 3
    held = arm.hold_next("failoverGroupAzureAsyncOperation/")

    drill = start_drill("orders-sql-failover")
    assert held.held.wait(90), "the failover's first status look never reached Azure"
    step = drill.step_runs.get(step__key="failover")
    assert step.status == StepRun.Status.RUNNING and step.phase == "poll"
    token = step.poll_state["token"]
    # Killed while its look is in flight: its answer goes nowhere, its lease runs out.
    os.killpg(azure_worker.process.pid, signal.SIGKILL)
    azure_worker.process.wait()
    held.release.set()
    azure_worker.restart()

    drill = wait_for_drill(drill, timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    [operation] = arm.started
    assert operation.kind == "failover" and arm.primary() == "orders-sql-neu"
    looks = [path for method, path in arm.requests if "AzureAsyncOperation/" in path]
    assert looks and all(path.endswith(operation.id) for path in looks)
    step.refresh_from_db()
    assert step.attempt == 2 and step.evidence["attempt"] == 2
    assert step.poll_state["token"] == token
    assert DrillEvent.objects.filter(drill=drill, step_run=step, kind="step.reclaimed").count() == 1
