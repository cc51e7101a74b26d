"""A plan walked as a tabletop: *Start tabletop* on the plan page starts a tabletop of the first
system's runbook only; when the team ends it, the next system's tabletop starts (through the real
worker, as a plan drill moves on). Nothing is executed or measured — a production system needs no
typed name or approval — and the page shows the team's estimates as estimates: per system and the
service's longest chain through the order, never an RTO, a target or MET."""

from __future__ import annotations

import pytest
from django.test import Client

from drills.models import Drill, Measurement
from drills.tabletop import end_tabletop, mark_item
from plans.models import PlanDrill
from plans.services import import_plans
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

ESTATE = """
systems:
  - {slug: db, name: Db, environment: production, tier: 1, rto_target: 1m}
  - {slug: app, name: App, environment: staging, tier: 1, depends_on: [db]}
runbooks:
""" + "".join(f"""  - slug: {slug}-failover
    system: {slug}
    kind: partial_failover
    steps:
      - {{name: Take the primary down, action: wait, params: {{seconds: 30}}, marks: [outage_start]}}
      - {{name: Promote the replica, action: wait, params: {{seconds: 30}}}}
      - {{name: Check it serves, action: wait, params: {{seconds: 30}}, marks: [service_restored]}}
""" for slug in ("db", "app"))

PLAN = """
plans:
  - slug: region-lost
    title: Primary region lost
    rto_target: 1m
    systems:
      - {system: app, runbook: app-failover}
      - {system: db, runbook: db-failover}
"""


def walk(drill: Drill, user, minutes: list[int]) -> None:
    for step_run, estimate in zip(drill.step_runs.order_by("position"), minutes, strict=True):
        mark_item(step_run=step_run, user=user, outcome="done", estimated_minutes=estimate)
    end_tabletop(drill=drill, user=user)


def test_a_plan_walked_as_a_tabletop_goes_system_by_system_with_estimates_never_figures(
        worker, import_yaml, coordinator):
    import_yaml(ESTATE)
    import_plans(sources=[("plan.yaml", PLAN)], user=coordinator)
    client = Client()
    client.force_login(coordinator)
    assert "Start tabletop" in client.get("/plans/region-lost/").content.decode()

    # No typed name for the production db: nothing is changed on paper.
    response = client.post("/plans/region-lost/start/", {"mode": "tabletop"})
    plan_drill = PlanDrill.objects.get()
    assert response["Location"] == plan_drill.get_absolute_url() and plan_drill.mode == Drill.Mode.TABLETOP
    db = plan_drill.recoveries.get(system__slug="db").drill
    assert db.mode == Drill.Mode.TABLETOP and db.status == Drill.Status.WALKING  # no approval awaited
    assert plan_drill.recoveries.get(system__slug="app").drill is None  # app waits for db to be walked

    walk(db, coordinator, [2, 5, 3])  # recovery on paper: promote + check = 8 min
    wait_until(lambda: plan_drill.recoveries.get(system__slug="app").drill is not None, timeout=30,
               message="app's tabletop to start once db's ended")
    app = plan_drill.recoveries.get(system__slug="app").drill
    db.refresh_from_db()
    assert app.mode == Drill.Mode.TABLETOP and app.started_at >= db.finished_at
    page = client.get(plan_drill.get_absolute_url()).content.decode()
    assert 'id="system-db" data-state="succeeded"' in page and "Walked through" in page
    assert "est. 8 min" in page and "No estimate yet" in page  # app not estimated yet

    walk(app, coordinator, [1, 2, 2])
    wait_until(lambda: PlanDrill.objects.get(pk=plan_drill.pk).status != PlanDrill.Status.RUNNING, timeout=30,
               message="the plan tabletop to end")
    plan_drill.refresh_from_db()
    assert plan_drill.status == PlanDrill.Status.SUCCEEDED and plan_drill.outcome == "Every system walked through."
    assert plan_drill.service_rto["value_seconds"] is None and plan_drill.service_rto["method"] == "not measured"
    assert not Measurement.objects.filter(drill__in=(db, app)).exists()

    page = client.get(plan_drill.get_absolute_url()).content.decode()
    assert "Estimate: 12 min" in page and "est. 4 min" in page  # db's 8 then app's 4, in the plan's order
    assert 'id="service-rto"' not in page and "MET" not in page and "target" not in page

    # Aborting a plan tabletop aborts the tabletop being walked.
    client.post("/plans/region-lost/start/", {"mode": "tabletop"})
    again = PlanDrill.objects.exclude(pk=plan_drill.pk).get()
    client.post(f"/plan-drills/{again.pk}/abort/", {"reason": "the facilitator was called away"})
    again.refresh_from_db()
    assert again.status == PlanDrill.Status.ABORTED
    assert again.recoveries.get(system__slug="db").drill.status == Drill.Status.ABORTED
