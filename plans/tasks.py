"""Celery tasks of plans: thin wrappers that take ids and call the services. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from drills.models import Drill

from . import services
from .models import PlanDrill


@shared_task(name="plans.tasks.advance_plan_drill")
def advance_plan_drill(plan_drill_id: int) -> None:
    services.advance(plan_drill_id)


@shared_task(name="plans.tasks.sweep_plan_drills")
def sweep_plan_drills() -> int:
    """What a lost message would have done: look at every running plan drill again, and at every
    failed one with a system drill running again (retried on its page). Also how a plan drill learns
    that a system drill's production start was rejected (that ends no drill that ran)."""
    moving = set(PlanDrill.objects.filter(status=PlanDrill.Status.RUNNING).values_list("pk", flat=True))
    moving |= set(PlanDrill.objects.filter(status=PlanDrill.Status.FAILED, recoveries__drill__status__in=Drill.ACTIVE)
                  .values_list("pk", flat=True))
    for plan_drill_id in sorted(moving):
        services.advance(plan_drill_id)
    return len(moving)
