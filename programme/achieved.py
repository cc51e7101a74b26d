"""Achieved RTO and RPO as the programme counts them: measured by a live drill of a kind that
recovers something. A dry-run measures nothing and a tabletop only estimates, so neither is ever
counted as achieved."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value, When

from drills.models import Drill, Measurement
from runbooks.models import DrillKind, System

from .cadence import HELD_STATUSES


def achieved_measurements() -> QuerySet[Measurement]:
    return (Measurement.objects.filter(drill__mode=Drill.Mode.LIVE, drill__status__in=HELD_STATUSES,
                                       drill__finished_at__isnull=False, value_seconds__isnull=False)
            .exclude(drill__kind=DrillKind.TABLETOP))


def achieved_between(starts: datetime, ends: datetime, *, system: System | None = None) -> list[tuple]:
    """Every achieved figure of drills that finished in [starts, ends), oldest first, as tuples
    (system id, kind (rto/rpo), value, drill id, finished at, sample): tuples, because a report
    reads a hundred thousand of them."""
    figures = achieved_measurements().filter(drill__finished_at__gte=starts, drill__finished_at__lt=ends)
    if system is not None:
        figures = figures.filter(drill__system=system)
    return list(figures.order_by("drill__finished_at", "drill_id")
                .values_list("drill__system_id", "kind", "value_seconds", "drill_id", "drill__finished_at", "drill__sample"))


def achieved_by_period(bounds: list[datetime]) -> list[tuple]:
    """Every achieved figure of drills that finished between ``bounds[0]`` and ``bounds[-1]``, oldest
    first, as (system id, kind, value, drill id, period, sample), where period n means
    bounds[n] <= finished < bounds[n + 1]. The period is worked out by the database: parsing a
    hundred thousand timestamps would cost a report most of its time."""
    period = Case(*(When(drill__finished_at__lt=bound, then=Value(n)) for n, bound in enumerate(bounds[1:-1])),
                  default=Value(len(bounds) - 2), output_field=IntegerField())
    return list(achieved_measurements().filter(drill__finished_at__gte=bounds[0], drill__finished_at__lt=bounds[-1])
                .annotate(period=period).order_by("drill__finished_at", "drill_id")
                .values_list("drill__system_id", "kind", "value_seconds", "drill_id", "period", "drill__sample"))


def drilled_live() -> QuerySet[Drill]:
    return (Drill.objects.filter(mode=Drill.Mode.LIVE, status__in=HELD_STATUSES)
            .exclude(kind=DrillKind.TABLETOP))


def with_last_achieved(systems: QuerySet[System]) -> QuerySet[System]:
    """Annotate ``last_rto`` and ``last_rpo`` (the newest achieved figure of each) and
    ``drilled_live`` (whether any live recovery drill ran to its end): one query."""
    def newest(kind: str) -> Subquery:
        return Subquery(achieved_measurements().filter(drill__system=OuterRef("pk"), kind=kind)
                        .order_by("-drill__finished_at", "-drill_id").values("value_seconds")[:1])

    return systems.annotate(last_rto=newest("rto"), last_rpo=newest("rpo"),
                            drilled_live=Exists(drilled_live().filter(system=OuterRef("pk"))))
