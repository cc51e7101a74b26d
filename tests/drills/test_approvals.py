"""Approval gates: four eyes on risky steps and on live drills against production."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from accounts.roles import Role
from drills.models import Approval, Drill, StepRun
from drills.services import (
    DrillActionRefused,
    approve_start,
    approve_step,
    confirm_step,
    drill_start,
    reject_start,
    reject_step,
    skip_step,
)
from runbooks.models import Runbook
from tests.support.roles import user_with_role
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

GATED_STEPS = """
      - name: Approve the failover
        action: approval
        params: {{instructions: "Failover of orders to the standby site"}}
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{url}/apply", method: POST}}
"""


@pytest.fixture
def people(db):
    starter = user_with_role("sam", Role.COORDINATOR.value)
    # Sam may approve too: being an approver is not enough to approve one's own drill.
    starter.groups.add(Group.objects.get_or_create(name=Role.APPROVER.value)[0])
    return {"starter": starter, "approver": user_with_role("ann", Role.APPROVER.value),
            "participant": user_with_role("pia", Role.PARTICIPANT.value)}


def start(slug: str, user, **kwargs) -> Drill:
    return drill_start(runbook_version=Runbook.objects.get(slug=slug).latest_version, user=user, **kwargs)


def test_the_starter_cannot_approve_their_own_gate_and_another_approver_can(worker, import_yaml, orders_db, service, people):
    import_yaml(*system_and_runbook(orders_db, service.url, GATED_STEPS.format(url=service.url)))
    drill = wait_for_drill(start("drill-under-test", people["starter"]), statuses=("waiting",))
    gate = drill.step_runs.get(position=1)

    with pytest.raises(DrillActionRefused, match="another approver"):
        approve_step(step_run=gate, user=people["starter"], comment="looks fine to me")
    with pytest.raises(DrillActionRefused, match="approval gate"):
        confirm_step(step_run=gate, user=people["starter"])
    with pytest.raises(DrillActionRefused, match="cannot be skipped"):
        skip_step(step_run=gate, user=people["starter"], reason="in a hurry")
    with pytest.raises(DrillActionRefused, match="comment"):
        approve_step(step_run=gate, user=people["approver"], comment="  ")
    assert service.count("/apply") == 0

    approve_step(step_run=gate, user=people["approver"], comment="CAB-1234 approved")
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.SUCCEEDED
    assert service.count("/apply") == 1
    approval = Approval.objects.get(drill=drill)
    assert (approval.decision, approval.decided_by.username, approval.comment) == ("approved", "ann", "CAB-1234 approved")


def test_a_rejected_gate_fails_the_drill_and_nothing_after_it_runs(worker, import_yaml, orders_db, service, people):
    import_yaml(*system_and_runbook(orders_db, service.url, GATED_STEPS.format(url=service.url)))
    drill = wait_for_drill(start("drill-under-test", people["starter"]), statuses=("waiting",))
    gate = drill.step_runs.get(position=1)

    reject_step(step_run=gate, user=people["approver"], comment="change freeze this week")
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.FAILED
    assert "change freeze" in drill.outcome
    assert list(drill.step_runs.order_by("position").values_list("status", flat=True)) == ["failed", "cancelled"]
    time.sleep(1.5)  # a late message must not run the failover after all
    assert service.count("/apply") == 0
    with pytest.raises(DrillActionRefused):
        approve_step(step_run=gate, user=people["approver"], comment="changed my mind")


def production_yaml(orders_db, url: str) -> tuple[str, str]:
    system, runbook = system_and_runbook(orders_db, url, f"""
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{url}/apply", method: POST}}
""")
    return system.replace("environment: staging", "environment: production"), runbook


def test_a_live_drill_on_production_needs_the_typed_name_and_an_approval_before_it_starts(worker, import_yaml, orders_db,
                                                                                         service, people):
    import_yaml(*production_yaml(orders_db, service.url))
    with pytest.raises(DrillActionRefused, match="type its name"):
        start("drill-under-test", people["starter"])
    with pytest.raises(DrillActionRefused, match="type its name"):
        start("drill-under-test", people["starter"], confirmation="Order")
    assert not Drill.objects.exists()

    drill = start("drill-under-test", people["starter"], confirmation="Orders")
    assert drill.status == Drill.Status.DRAFT
    time.sleep(1.5)
    drill.refresh_from_db()
    assert drill.status == Drill.Status.DRAFT and service.count("/apply") == 0
    assert set(drill.step_runs.values_list("status", flat=True)) == {StepRun.Status.PENDING}

    with pytest.raises(DrillActionRefused, match="another approver"):
        approve_start(drill=drill, user=people["starter"], comment="mine")
    with pytest.raises(PermissionDenied, match="approve"):
        approve_start(drill=drill, user=people["participant"], comment="sure")

    approve_start(drill=drill, user=people["approver"], comment="Window 02:00-04:00 agreed")
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.SUCCEEDED and service.count("/apply") == 1


def test_a_rejected_production_start_runs_nothing(worker, import_yaml, orders_db, service, people):
    import_yaml(*production_yaml(orders_db, service.url))
    drill = start("drill-under-test", people["starter"], confirmation="orders")
    reject_start(drill=drill, user=people["approver"], comment="Not during quarter close")
    drill.refresh_from_db()
    assert drill.status == Drill.Status.FAILED and "quarter close" in drill.outcome
    time.sleep(1.5)
    assert service.count("/apply") == 0
    assert set(drill.step_runs.values_list("status", flat=True)) == {StepRun.Status.CANCELLED}


def test_a_dry_run_on_production_needs_no_approval(worker, import_yaml, orders_db, service, people):
    import_yaml(*production_yaml(orders_db, service.url))
    drill = wait_for_drill(start("drill-under-test", people["starter"], mode="dry_run"))
    assert drill.status == Drill.Status.SUCCEEDED and service.count("/apply") == 0
