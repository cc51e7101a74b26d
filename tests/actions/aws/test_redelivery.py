"""A failover step delivered twice, and its worker killed after AWS applied the call but before the
answer came back: the redelivered step finds the new writer (or the reboot it already asked for)
and does not ask again. The proxy in front of moto holds the answer to the one call until the test
has SIGKILLed the worker child that sent it (the pattern of tests/drills/test_faults.py)."""

from __future__ import annotations

import os
import signal

import pytest
from celery import current_app

from drills.models import Drill, DrillEvent, StepRun
from tests.support.aws_moto import cluster_binding, instance_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker


def kill_the_worker_holding(step: StepRun, aws_proxy, operation: str) -> None:
    wait_until(lambda: StepRun.objects.get(pk=step.pk).dispatched_at is not None, timeout=60,
               message="the step to be dispatched")
    for _ in range(2):  # the same message, delivered twice more
        current_app.send_task("drills.tasks.run_step", args=[step.pk])
    assert aws_proxy.held.wait(60), f"{operation} never reached AWS"
    step.refresh_from_db()
    assert step.status == StepRun.Status.RUNNING
    os.kill(int(step.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    aws_proxy.release.set()


def assert_one_start_and_one_success(drill: Drill, step: StepRun) -> None:
    events = list(DrillEvent.objects.filter(drill=drill, step_run=step).values_list("kind", flat=True))
    assert events.count("step.started") == 1, events
    assert events.count("step.reclaimed") >= 1, events
    assert events.count("step.succeeded") == 1, events


def test_a_failover_whose_worker_died_after_the_call_fails_over_once(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    import_yaml(system_yaml({"orders": cluster_binding()}), runbook_yaml("""
      - key: failover
        name: Fail the orders database over
        action: aws.rds.failover_cluster
        params: {target: orders, to_instance: orders-db-2, poll_interval: 0.5}
"""))
    aws_proxy.hold_answer_to("FailoverDBCluster")

    drill = start_drill("aws-drill")
    step = drill.step_runs.get(step__key="failover")
    kill_the_worker_holding(step, aws_proxy, "FailoverDBCluster")
    drill = wait_for_drill(drill, timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws_proxy.count("FailoverDBCluster") == 1
    assert aws.writer("orders-db") == "orders-db-2"
    step.refresh_from_db()
    assert step.attempt >= 2
    assert step.evidence["failed_over_by_an_earlier_attempt"] is True
    assert_one_start_and_one_success(drill, step)


def test_a_multi_az_reboot_whose_worker_died_after_the_call_reboots_once(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml("""
      - key: reboot
        name: Reboot billing onto its standby
        action: aws.rds.reboot_with_failover
        params: {target: billing, poll_interval: 0.5}
"""))
    aws_proxy.hold_answer_to("RebootDBInstance")

    drill = start_drill("aws-drill")
    step = drill.step_runs.get(step__key="reboot")
    kill_the_worker_holding(step, aws_proxy, "RebootDBInstance")
    drill = wait_for_drill(drill, timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    # RDS has no idempotency token for a reboot: the intent tag written before it is what stopped a second one.
    assert aws_proxy.count("RebootDBInstance") == 1
    step.refresh_from_db()
    assert step.evidence["rebooted_by_an_earlier_attempt"] is True
    assert_one_start_and_one_success(drill, step)
