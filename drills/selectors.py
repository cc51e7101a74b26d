"""Reads for pages and reports: one query shape per page, whatever the data size."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from runbooks.diffs import DiffLine, version_diff
from runbooks.models import DrillKind, RunbookVersion, System

from .models import Drill, Measurement


def systems_with_last_drill() -> QuerySet[System]:
    """Systems annotated with their newest finished live drill's id (one query, no N+1). Tabletop
    exercises prove no figure, so they never replace a measured drill here."""
    last = (Drill.objects.filter(system=OuterRef("pk"), mode=Drill.Mode.LIVE, status__in=Drill.FINISHED)
            .exclude(kind=DrillKind.TABLETOP).order_by("-created_at").values("pk")[:1])
    return System.objects.annotate(last_drill_id=Subquery(last)).order_by("tier", "name")


DASHBOARD_ROWS = 25


def dashboard_drills() -> dict:
    """What the dashboard shows of drills (the page itself is the programme's overview): drills
    running now, the most critical systems with their last live drill, and the newest drills."""
    systems = systems_with_last_drill()
    return {
        "active_drills": active_drills()[:DASHBOARD_ROWS],
        "systems": with_last_drills(systems[:DASHBOARD_ROWS]),
        "system_count": systems.count(),
        "recent_drills": recent_drills(10),
    }


def drills_by_id_with_measurements(ids: list[int]) -> dict[int, Drill]:
    drills = Drill.objects.filter(pk__in=[i for i in ids if i]).prefetch_related(
        Prefetch("measurements", queryset=Measurement.objects.all()))
    return {d.pk: d for d in drills}


def drill_for_page(drill_id: int) -> Drill:
    return (Drill.objects.select_related("runbook_version__runbook", "system", "started_by")
            .prefetch_related("measurements", "resources").get(pk=drill_id))


def step_runs_for_page(drill: Drill):
    return drill.step_runs.select_related("step", "acted_by").order_by("position")


def recent_drills(limit: int = 50) -> QuerySet[Drill]:
    return recent_drills_queryset()[:limit]


def active_drills() -> QuerySet[Drill]:
    """Drills happening now: running, waiting for a person, or a tabletop being walked."""
    return Drill.objects.filter(status__in=Drill.IN_PROGRESS).select_related(
        "runbook_version__runbook", "system", "started_by").order_by("-created_at")


def drills_of_system(system: System, limit: int = 20) -> QuerySet[Drill]:
    return recent_drills_queryset().filter(system=system)[:limit]


def drills_of_runbook(runbook_id: int, limit: int = 20) -> QuerySet[Drill]:
    return recent_drills_queryset().filter(runbook_version__runbook_id=runbook_id)[:limit]


def recent_drills_queryset() -> QuerySet[Drill]:
    return Drill.objects.select_related("runbook_version__runbook", "system", "started_by").prefetch_related(
        "measurements").order_by("-created_at")


def with_last_drills(systems: Iterable[System]) -> list[System]:
    """Set ``last_drill`` (newest finished live drill, measurements prefetched) on systems from
    ``systems_with_last_drill()``: one query for the lot."""
    systems = list(systems)
    drills = drills_by_id_with_measurements([s.last_drill_id for s in systems])
    for system in systems:
        system.last_drill = drills.get(system.last_drill_id)
    return systems


def runbook_changes_since(drill: Drill) -> tuple[RunbookVersion, list[DiffLine]] | None:
    """The runbook's latest version and what changed since the version this drill ran, when it did."""
    latest = drill.runbook_version.runbook.versions.order_by("-number").first()
    if latest is None or latest.pk == drill.runbook_version_id:
        return None
    return latest, version_diff(drill.runbook_version, latest)
