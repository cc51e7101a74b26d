"""A live plan drill over production systems keeps the rules of a live production drill: the
starter types the plan's name once, each production system's drill waits for an approver other
than the starter, and a rejected start fails that system and stops what waits for it. A person
without the coordinator role starts nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from accounts.roles import Role
from drills.models import Drill
from drills.services import reject_start
from plans import services
from plans.models import Plan, PlanDrill, SystemRecovery
from plans.selectors import plan_drill_rows
from tests.support.roles import user_with_role

ESTATE = """
systems:
  - {slug: db, name: Db, environment: production, tier: 0}
  - {slug: app, name: App, environment: production, tier: 0, depends_on: [db]}
runbooks:
  - {slug: db-failover, system: db, kind: partial_failover, steps: [{name: Promote, action: wait, params: {seconds: 1}}]}
  - {slug: app-failover, system: app, kind: partial_failover, steps: [{name: Redeploy, action: wait, params: {seconds: 1}}]}
"""
PLAN = """
plans:
  - slug: region-lost
    title: Primary region lost
    systems: [{system: app, runbook: app-failover}, {system: db, runbook: db-failover}]
"""


def test_a_live_plan_on_production_needs_the_typed_name_and_each_drill_its_approval(db, import_yaml, coordinator):
    import_yaml(ESTATE)
    services.import_plans(sources=[("plan.yaml", PLAN)], user=coordinator)
    version = Plan.objects.get().latest_version

    with pytest.raises(services.PlanActionRefused, match="type the plan's name “Primary region lost”"):
        services.plan_drill_start(plan_version=version, user=coordinator, confirmation="yes")
    with pytest.raises(PermissionDenied):
        services.plan_drill_start(plan_version=version, user=user_with_role("pat", Role.PARTICIPANT.value),
                                  mode="dry_run")
    assert not PlanDrill.objects.exists() and not Drill.objects.exists()

    plan_drill = services.plan_drill_start(plan_version=version, user=coordinator, confirmation="Primary region lost")
    db_drill = Drill.objects.get()
    assert db_drill.system.slug == "db" and db_drill.status == Drill.Status.DRAFT  # awaiting its approver
    states = {row.recovery.system.slug: row.state for row in plan_drill_rows(plan_drill)}
    assert states == {"db": SystemRecovery.State.AWAITING_APPROVAL, "app": SystemRecovery.State.WAITING}

    reject_start(drill=db_drill, user=user_with_role("avery", Role.APPROVER.value), comment="Not during the sale")
    services.advance(plan_drill.pk)  # what the sweep does for a rejected start
    plan_drill.refresh_from_db()
    assert plan_drill.status == PlanDrill.Status.FAILED
    assert plan_drill.outcome == "Db failed; App not started (waits for Db)."
    assert Drill.objects.count() == 1
