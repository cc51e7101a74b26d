"""The promote step of a real failover is delivered twice, and the worker that sent pg_promote() is
killed before it hears the answer: the redelivered step finds the standby already promoted, does
not promote again, and the drill completes with one primary."""

from __future__ import annotations

import os
import signal

import pytest
from celery import current_app

from drills.models import Drill, DrillEvent, StepRun
from tests.support.pg_cluster import (
    FreezingProxy,
    example,
    service_binding,
    shop_db_system,
)
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker


def test_a_promote_redelivered_after_its_worker_died_leaves_one_primary(worker, import_yaml, start_drill, sandbox):
    pg1 = sandbox.primary("pg1")
    pg2 = sandbox.standby_of(pg1, "pg2")
    # The drill reaches pg2 through a proxy that holds back the answer to pg_promote().
    proxy = FreezingProxy(pg2.port, pattern=b"pg_promote(wait")
    import_yaml(shop_db_system(pg1=pg1.binding(), pg2=pg2.binding(port=proxy.port), db=service_binding(pg1, pg2)),
                example("ha-failover.yaml"))

    drill = start_drill("shop-db-failover")
    promote = drill.step_runs.get(step__key="promote")
    wait_until(lambda: StepRun.objects.get(pk=promote.pk).dispatched_at is not None, timeout=60,
               message="the promote step to be dispatched")
    for _ in range(2):  # the same message, delivered twice more
        current_app.send_task("drills.tasks.run_step", args=[promote.pk])
    assert proxy.frozen.wait(60), "pg_promote() never reached the standby"
    promote.refresh_from_db()
    os.kill(int(promote.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    drill = wait_for_drill(drill, timeout=120)
    proxy.close()

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    promote.refresh_from_db()
    assert promote.attempt >= 2
    assert promote.evidence["promoted_by_an_earlier_attempt"] is True
    assert promote.evidence["timeline"] == 2
    events = list(DrillEvent.objects.filter(drill=drill, step_run=promote).values_list("kind", flat=True))
    assert events.count("step.started") == 1
    assert events.count("step.reclaimed") >= 1
    assert events.count("step.succeeded") == 1
    # One primary, promoted once: pg1 is down, pg2 writes on the only new timeline.
    assert not pg1.running()
    assert not pg2.in_recovery()
    assert pg2.timeline_histories() == ["00000002.history"]
