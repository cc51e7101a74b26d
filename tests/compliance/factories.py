"""Finished drills with the records the control catalogue reads: a timeline, figures, a failback
mark, an integrity check. Built by hand on the real database, like tests/programme/factories.py."""

from __future__ import annotations

from datetime import datetime

from drills.models import Drill, DrillEvent, StepRun
from runbooks.models import System
from tests.programme.factories import finished_drill


def drill_with_evidence(system: System, kind: str, at: datetime, *, mode: str = Drill.Mode.LIVE,
                        status: str = Drill.Status.SUCCEEDED, rto: float | None = None, rpo: float | None = None,
                        failback: bool = False, integrity: bool = False) -> Drill:
    drill = finished_drill(system, str(kind), at, rto=rto, rpo=rpo, mode=str(mode), status=status)
    DrillEvent.objects.create(drill=drill, at=at, kind="drill.started", message="The drill started.")
    step = drill.runbook_version.steps.order_by("position").first()
    StepRun.objects.create(drill=drill, step=step, position=step.position, status=StepRun.Status.SUCCEEDED,
                           started_at=at, finished_at=at,
                           marks={**({"service_restored": at.isoformat()} if rto is not None else {}),
                                  **({"failback_complete": at.isoformat()} if failback else {})},
                           evidence={"verified": "orders", "tables": ["orders"]} if integrity else {})
    return drill
