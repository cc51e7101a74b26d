"""Re-tests due after a substantive change (DORA Art. 11(6): plans are tested after substantive
changes as well as yearly). A recovery runbook is due a re-test when its newest version came after
its last drill held live, or when the system's RTO/RPO targets are no longer those that drill was
pinned to. Computed from the records on every read, so nothing has to remember to set a flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery

from drills.models import Drill
from runbooks.durations import format_duration
from runbooks.models import DrillKind, Runbook, RunbookVersion, System

from .evidence import HELD


@dataclass(frozen=True)
class RetestDue:
    system: System
    runbook: Runbook
    reason: str
    since: datetime  # when the change was made, or when the last drill ran for a target change
    last_drill_id: int


def retests_due(systems: list[System] | None = None) -> list[RetestDue]:
    """Every recovery runbook (not a tabletop's) drilled live before, changed since."""
    last_drill = (Drill.objects.filter(runbook_version__runbook=OuterRef("pk"), status__in=HELD, mode=Drill.Mode.LIVE)
                  .order_by("-finished_at", "-pk").values("pk")[:1])
    newest = RunbookVersion.objects.filter(runbook=OuterRef("pk")).order_by("-number")
    runbooks = (Runbook.objects.exclude(kind=DrillKind.TABLETOP).select_related("system")
                .annotate(last_drill=Subquery(last_drill), newest_number=Subquery(newest.values("number")[:1]),
                          newest_at=Subquery(newest.values("created_at")[:1]))
                .filter(last_drill__isnull=False).order_by("system__tier", "system__name", "title"))
    if systems is not None:
        runbooks = runbooks.filter(system__in=systems)
    runbooks = list(runbooks)
    drills = Drill.objects.select_related("runbook_version").in_bulk([r.last_drill for r in runbooks])
    due = []
    for runbook in runbooks:
        drill = drills[runbook.last_drill]
        system = runbook.system
        if runbook.newest_number != drill.runbook_version.number and runbook.newest_at > drill.finished_at:
            due.append(RetestDue(system, runbook, f"version {runbook.newest_number} since the last drill "
                                                  f"(#{drill.pk}, version {drill.runbook_version.number})",
                                 runbook.newest_at, drill.pk))
            continue
        pinned = [(name, drill.snapshot.get(f"{kind}_target_seconds"), getattr(system, f"{kind}_target_seconds"))
                  for name, kind in (("RTO", "rto"), ("RPO", "rpo"))]
        changed = [f"{name} target {format_duration(was)} → {format_duration(now)}" for name, was, now in pinned
                   if was is not None and float(was) != float(now)]
        if changed:
            due.append(RetestDue(system, runbook, f"{', '.join(changed)} since the last drill (#{drill.pk})",
                                 drill.finished_at, drill.pk))
    return due
