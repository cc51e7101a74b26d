"""Use cases of running drills, shared by the UI, the CLI and the tasks."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from runbooks.actions import ActionFailed, canary_writer
from runbooks.models import RunbookVersion

from .clock import db_now
from .engine import (  # noqa: F401  (re-exported: the one place views and commands call)
    DrillActionRefused,
    abort_drill,
    confirm_step,
    record_event,
    retry_step,
    send,
    skip_step,
)
from .models import CanaryRun, Drill, StepRun


def drill_start(*, runbook_version: RunbookVersion, user: Any, mode: str = Drill.Mode.LIVE) -> Drill:
    """Create the drill pinned to ``runbook_version`` with one step run per step, and set it going."""
    if mode not in Drill.Mode.values:
        raise DrillActionRefused(f"unknown mode {mode!r}; use live or dry_run")
    runbook = runbook_version.runbook
    system = runbook.system
    canary_spec = runbook_version.canary
    if canary_spec and mode == Drill.Mode.LIVE:
        try:
            canary_writer(system.targets.get(canary_spec["target"], {})).check()
        except ActionFailed as error:
            raise DrillActionRefused(f"The canary cannot write to target {canary_spec['target']!r}: {error}") from None
    with transaction.atomic():
        now = db_now()
        drill = Drill.objects.create(runbook_version=runbook_version, system=system, kind=runbook.kind, mode=mode,
                                     status=Drill.Status.RUNNING, started_by=user if user and user.is_authenticated else None,
                                     started_at=now)
        StepRun.objects.bulk_create(
            StepRun(drill=drill, step=step, position=step.position) for step in runbook_version.steps.order_by("position")
        )
        mode_label = "dry-run" if mode == Drill.Mode.DRY_RUN else "live drill"
        record_event(drill.pk, "drill.started",
                     f"{mode_label.capitalize()} of {runbook.title} v{runbook_version.number} started by {user}.",
                     actor=user, at=now, data={"runbook": runbook.slug, "version": runbook_version.number, "mode": mode})
        if canary_spec and mode == Drill.Mode.LIVE:
            CanaryRun.objects.create(drill=drill, target=canary_spec["target"], interval_seconds=canary_spec["interval"])
            send("drills.tasks.canary_tick", drill.pk)
        send("drills.tasks.advance_drill", drill.pk)
    return drill
