"""Planned drills: beat starts one at its time as the person who planned it; a live drill on
production starts only with an approval given in advance by someone else (applied through the
normal start approval); a tabletop's people are reminded instead of a start."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from drills.models import Approval, Drill
from programme.models import PlannedDrill, Subscription
from programme.planning import PlanRefused, approve_planned_drill, plan_drill
from runbooks.models import Runbook
from tests.support.roles import user_with_role
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker


def soon(seconds: float = 2) -> timezone.datetime:
    return timezone.now() + timedelta(seconds=seconds)


def wait_for_plan(planned: PlannedDrill, timeout: float = 30) -> PlannedDrill:
    wait_until(lambda: PlannedDrill.objects.get(pk=planned.pk).status not in ("planned", "starting"), timeout=timeout,
               message=f"beat to act on planned drill {planned.pk}")
    planned.refresh_from_db()
    return planned


def test_beat_starts_a_planned_drill_at_its_time(worker, import_yaml, orders_db, service, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    planned = plan_drill(runbook=Runbook.objects.get(), scheduled_at=soon(), user=coordinator)
    assert planned.status == "planned" and not Drill.objects.exists()
    planned = wait_for_plan(planned)
    assert planned.status == PlannedDrill.Status.STARTED, planned.outcome
    drill = wait_for_drill(planned.drill)
    assert drill.status == Drill.Status.SUCCEEDED and drill.started_by == coordinator
    assert drill.started_at >= planned.scheduled_at


def test_a_production_drill_starts_only_with_an_approval_given_in_advance(worker, import_yaml, orders_db, service,
                                                                         coordinator):
    system, runbook = system_and_runbook(orders_db, service.url, f"""
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{service.url}/apply", method: POST}}
""")
    import_yaml(system.replace("environment: staging", "environment: production"), runbook)
    rb = Runbook.objects.get()
    with pytest.raises(PlanRefused, match="type its name"):
        plan_drill(runbook=rb, scheduled_at=soon(), user=coordinator)
    ann = user_with_role("ann", "approver")

    unapproved = plan_drill(runbook=rb, scheduled_at=soon(1), user=coordinator, confirmation="Orders")
    with pytest.raises(PlanRefused, match="another approver"):
        approve_planned_drill(planned=unapproved, user=coordinator, comment="mine")
    approved = plan_drill(runbook=rb, scheduled_at=soon(3), user=coordinator, confirmation="Orders")
    approve_planned_drill(planned=approved, user=ann, comment="CHG-1042 approved for Saturday")

    unapproved = wait_for_plan(unapproved)
    assert unapproved.status == PlannedDrill.Status.NOT_STARTED and unapproved.drill is None
    assert "approved it in advance" in unapproved.outcome
    approved = wait_for_plan(approved)
    assert approved.status == PlannedDrill.Status.STARTED, approved.outcome
    drill = wait_for_drill(approved.drill)
    assert drill.status == Drill.Status.SUCCEEDED and service.count("/apply") == 1
    approval = Approval.objects.get(drill=drill, gate=Approval.Gate.START)
    assert approval.decided_by == ann and "Approved in advance" in approval.comment and "CHG-1042" in approval.comment


def test_a_planned_tabletop_reminds_its_people_instead_of_starting(worker, import_yaml, orders_db, service, coordinator):
    system, _ = system_and_runbook(orders_db, service.url, "")
    import_yaml(system, """
runbooks:
  - slug: orders-tabletop
    title: Orders tabletop
    system: orders
    kind: tabletop
    steps:
      - name: Walk through the restore
        action: manual.confirm
        params: {instructions: "Talk it through"}
""")
    Subscription.objects.create(name="Tabletop people", channel="apprise", events=["planned"],
                                address=service.url.replace("http://", "json://") + "/hook")
    planned = wait_for_plan(plan_drill(runbook=Runbook.objects.get(), scheduled_at=soon(), user=coordinator))
    assert planned.status == PlannedDrill.Status.REMINDED and not Drill.objects.exists()
    wait_until(lambda: service.posted("/hook"), message="the reminder")
    reminder = json.loads(service.posted("/hook")[0])
    assert "Orders tabletop" in reminder["title"] and "reminder sent" in reminder["title"].lower()
