"""A plan drill moves on when one of its system drills ends. The receiver runs in the process that
ended the drill (often a worker in a drill's hot path): it looks the drill up with one indexed query,
hands the plan drill's id to a Celery task and never raises."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from drills.signals import drill_ended

from .models import SystemRecovery
from .tasks import advance_plan_drill

log = logging.getLogger("drdrill.plans")


@receiver(drill_ended)
def advance_plan_of_ended_drill(sender: Any, drill_id: int, **kwargs: Any) -> None:
    try:
        plan_drill_id = SystemRecovery.objects.filter(drill_id=drill_id).values_list("plan_drill_id", flat=True).first()
        if plan_drill_id is not None:
            advance_plan_drill.delay(plan_drill_id)
    except Exception:
        # The plan sweep looks at it again within seconds; the drill itself must not fail for this.
        log.exception("could not queue the advance of the plan drill of drill %s", drill_id, extra={"drill_id": drill_id})
