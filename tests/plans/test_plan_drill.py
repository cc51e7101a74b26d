"""A plan drill through real workers: four systems, a chain (db ← app ← web) and a branch beside it
(db ← reports). Each system's drill starts when the systems it waits for have recovered (read from
the recorded step times), each reports its RTO and RPO, and the business service's RTO runs from the
first outage start to the last restoration. Then app fails: web is never started, reports still
recovers; skipping app's failed step lets the plan go on to web."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from django.test import Client

from drills.models import Drill, StepRun
from drills.services import skip_step
from plans.models import Plan, PlanDrill
from plans.services import import_plans, plan_drill_start

pytestmark = pytest.mark.worker

SYSTEMS = {"db": [], "app": ["db"], "web": ["app"], "reports": ["db"]}


def estate(health_url: str, *, failing_call: str | None = None) -> str:
    """The four systems, each with a failover runbook; with ``failing_call``, app's promotes through it."""
    lines = ["systems:"]
    for slug, dependencies in SYSTEMS.items():
        lines += [f"  - slug: {slug}", f"    name: {slug.title()}", "    environment: staging", "    tier: 1",
                  f"    depends_on: [{', '.join(dependencies)}]"]
    lines.append("runbooks:")
    for slug in SYSTEMS:
        lines += [f"  - slug: {slug}-failover", f"    system: {slug}", "    kind: partial_failover", "    steps:",
                  *failover_steps(health_url, failing_call=failing_call if slug == "app" else None)]
    return "\n".join(lines) + "\n"


def failover_steps(health_url: str, *, failing_call: str | None = None) -> list[str]:
    steps = ["      - {name: Take the primary down, action: wait, params: {seconds: 0.4}, marks: [outage_start]}"]
    if failing_call:
        steps.append(f"      - {{name: Promote the replica, action: http.request, params: {{url: \"{failing_call}\"}}}}")
    steps.append(f"      - {{name: Check it serves, action: http.wait_healthy, params: {{url: \"{health_url}\", "
                 "interval: 0.2, consecutive: 2}, marks: [service_restored]}")
    return steps


PLAN = """
plans:
  - slug: region-lost
    title: Primary region lost
    rto_target: 10m
    systems:
      - {system: web, runbook: web-failover}
      - {system: reports, runbook: reports-failover}
      - {system: app, runbook: app-failover}
      - {system: db, runbook: db-failover}
"""


def wait_for_plan_drill(plan_drill: PlanDrill, timeout: float = 60) -> PlanDrill:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        plan_drill.refresh_from_db()
        if plan_drill.status != PlanDrill.Status.RUNNING:
            return plan_drill
        time.sleep(0.2)
    states = [(r.system.slug, r.drill and r.drill.status) for r in plan_drill.recoveries.select_related("system", "drill")]
    raise AssertionError(f"plan drill {plan_drill.pk} still running after {timeout} s: {states}")


def drills_of(plan_drill: PlanDrill) -> dict[str, Drill | None]:
    return {r.system.slug: r.drill for r in plan_drill.recoveries.select_related("system", "drill")}


def span(drill: Drill) -> tuple:
    """When the drill's first step started and its last step finished, on the measurement clock."""
    runs = list(drill.step_runs.exclude(started_at=None))
    return min(r.started_at for r in runs), max(r.finished_at for r in runs)


def test_a_plan_recovers_in_dependency_order_and_stops_only_the_dependants_of_a_failure(worker, service, import_yaml,
                                                                                        coordinator):
    import_yaml(estate(f"{service.url}/health"))
    import_plans(sources=[("plan.yaml", PLAN)], user=coordinator)
    version = Plan.objects.get().latest_version

    plan_drill = wait_for_plan_drill(plan_drill_start(plan_version=version, user=coordinator))

    assert plan_drill.status == PlanDrill.Status.SUCCEEDED, plan_drill.outcome
    drills = drills_of(plan_drill)
    assert all(d.status == Drill.Status.SUCCEEDED for d in drills.values())
    spans = {slug: span(d) for slug, d in drills.items()}
    # What a system depends on recovered before its drill took its first step...
    for slug, dependencies in SYSTEMS.items():
        for dependency in dependencies:
            assert spans[dependency][1] <= spans[slug][0], f"{slug} started before {dependency} had recovered"
    # ...and the branch beside the chain recovered alongside it, not after it.
    assert spans["reports"][0] < spans["app"][1] and spans["app"][0] < spans["reports"][1]

    # Each system's figures are its own drill's, with their bounds; the service's span them all.
    for drill in drills.values():
        assert drill.rto.value_seconds > 0 and drill.rto.error_bound_seconds is not None
        assert drill.rpo is not None
    service_rto = plan_drill.service_rto
    outage_start = min(d.rto.evidence["outage_start"]["at"] for d in drills.values())
    restored = max(d.rto.evidence["service_restored"]["at"] for d in drills.values())
    assert service_rto["outage_start"] == {"at": outage_start, "system": "db"}
    assert service_rto["service_restored"] == {"at": restored, "system": "web"}
    assert service_rto["value_seconds"] == pytest.approx(
        (datetime.fromisoformat(restored) - datetime.fromisoformat(outage_start)).total_seconds())
    assert service_rto["value_seconds"] > max(d.rto.value_seconds for d in drills.values())
    assert service_rto["met"] is True and service_rto["error_bound_seconds"] is not None
    assert [phase["system"] for phase in service_rto["systems"]] == ["db", "app", "reports", "web"]

    client = Client()
    client.force_login(coordinator)
    page = client.get(plan_drill.get_absolute_url()).content.decode()
    assert 'id="system-web" data-state="succeeded"' in page and 'id="service-rto"' in page

    # app's runbook now promotes through a call that fails; the next plan drill pins that version.
    import_yaml(estate(f"{service.url}/health", failing_call=f"{service.url}/fail"))

    failing = wait_for_plan_drill(plan_drill_start(plan_version=version, user=coordinator))

    assert failing.status == PlanDrill.Status.FAILED
    drills = drills_of(failing)
    assert drills["app"].status == Drill.Status.FAILED
    assert drills["web"] is None  # never started: it waits for app
    assert drills["db"].status == drills["reports"].status == Drill.Status.SUCCEEDED
    assert "App failed" in failing.outcome and "Web not started (waits for App)" in failing.outcome
    assert failing.service_rto["value_seconds"] is None and "App" in failing.service_rto["reason"]
    page = client.get(failing.get_absolute_url()).content.decode()
    assert 'id="system-web" data-state="blocked"' in page

    # Skipping app's failed step, as on its drill page, resumes it; web follows, and the plan succeeds.
    failed_step = drills["app"].step_runs.get(status=StepRun.Status.FAILED)
    skip_step(step_run=failed_step, user=coordinator, reason="Promoted by hand")
    deadline = time.monotonic() + 60
    while failing.status != PlanDrill.Status.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.2)
        failing.refresh_from_db()
    assert failing.status == PlanDrill.Status.SUCCEEDED, failing.outcome
    drills = drills_of(failing)
    assert span(drills["app"])[1] <= span(drills["web"])[0]

