"""Cadence and overdue: when each system must next hold each kind of drill, and which are due soon
or overdue. Selectors only: a few queries whatever the number of systems."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Case, CharField, Count, F, Max, Value, When
from django.utils import timezone

from drills.models import Drill
from runbooks.models import DrillKind, Runbook, System

from .models import Cadence, PlannedDrill, default_cadence_months

# A drill "held" for the cadence ran to its end, live (a dry-run changes nothing, so it proves
# nothing). A tabletop is held by a drill of the tabletop kind or by any runbook walked through in
# tabletop mode (the mode the reviews app adds); it never proves an RTO or RPO.
HELD_STATUSES = (Drill.Status.SUCCEEDED, Drill.Status.FAILED)
TABLETOP_MODE = "tabletop"
HELD_MODES = (Drill.Mode.LIVE, TABLETOP_MODE)


class DueStatus:
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    OK = "ok"


@dataclass
class DueItem:
    system: System
    kind: str
    interval_months: int
    last_held: datetime | None
    due_on: date
    status: str
    days: int  # days overdue (positive) or until due (negative or zero)
    planned: PlannedDrill | None
    has_runbook: bool

    @property
    def kind_label(self) -> str:
        return DrillKind(self.kind).label

    @property
    def is_overdue(self) -> bool:
        return self.status == DueStatus.OVERDUE

    @property
    def days_left(self) -> int:
        return -self.days

    def as_json(self) -> dict:
        return {"system": self.system.slug, "system_name": self.system.name, "tier": self.system.tier,
                "kind": self.kind, "status": self.status, "due_on": self.due_on.isoformat(),
                "last_held": self.last_held.isoformat() if self.last_held else None,
                "interval_months": self.interval_months,
                "days_overdue" if self.is_overdue else "days_left": abs(self.days),
                "planned_at": self.planned.scheduled_at.isoformat() if self.planned else None,
                "has_runbook": self.has_runbook}


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def cadence_months() -> dict[tuple[int, str], int | None]:
    """Every tier × kind: the handbook's default, or what a coordinator set."""
    months = {(tier, kind): default_cadence_months(tier, kind) for tier in range(5) for kind in DrillKind.values}
    for tier, kind, interval in Cadence.objects.values_list("tier", "kind", "interval_months"):
        months[(tier, kind)] = interval
    return months


def held_drills():
    """Drills that count towards a cadence, annotated with the cadence kind they count for."""
    return (Drill.objects.filter(status__in=HELD_STATUSES, mode__in=HELD_MODES, finished_at__isnull=False)
            .annotate(cadence_kind=Case(When(mode=TABLETOP_MODE, then=Value(DrillKind.TABLETOP.value)),
                                        default=F("kind"), output_field=CharField())))


def last_held(*, before: datetime | None = None) -> dict[tuple[int, str], datetime]:
    drills = held_drills()
    if before is not None:
        drills = drills.filter(finished_at__lt=before)
    rows = drills.values("system_id", "cadence_kind").annotate(last=Max("finished_at")).order_by()
    return {(row["system_id"], row["cadence_kind"]): row["last"] for row in rows}


def next_planned(*, after: datetime) -> dict[tuple[int, str], PlannedDrill]:
    planned: dict[tuple[int, str], PlannedDrill] = {}
    for drill in (PlannedDrill.objects.filter(status=PlannedDrill.Status.PLANNED, scheduled_at__gte=after)
                  .order_by("-scheduled_at")):
        planned[(drill.system_id, drill.kind)] = drill  # newest first, so the earliest wins
    return planned


def cadence_status(*, on: date | None = None, held_before: datetime | None = None,
                   systems: Iterable[System] | None = None, due_soon_days: int | None = None) -> list[DueItem]:
    """Each system × each kind its tier requires: when it is next due, and whether that is overdue
    or due within ``due_soon_days`` of ``on`` (today by default). A system never drilled is due one
    interval after it was added."""
    now = timezone.now()
    on = on or timezone.localdate()
    horizon = settings.DRDRILL_DUE_SOON_DAYS if due_soon_days is None else due_soon_days
    months = cadence_months()
    held = last_held(before=held_before)
    planned = next_planned(after=now)
    runbook_kinds = set(Runbook.objects.values_list("system_id", "kind").distinct())
    systems = list(System.objects.order_by("tier", "name") if systems is None else systems)
    items = []
    for system in systems:
        for kind in DrillKind.values:
            interval = months[(system.tier, kind)]
            if not interval:
                continue
            last = held.get((system.pk, kind))
            since = timezone.localtime(last).date() if last else timezone.localtime(system.created_at).date()
            due_on = add_months(since, interval)
            days = (on - due_on).days
            status = (DueStatus.OVERDUE if days > 0 else DueStatus.DUE_SOON if days >= -horizon else DueStatus.OK)
            items.append(DueItem(system, kind, interval, last, due_on, status, days, planned.get((system.pk, kind)),
                                 (system.pk, kind) in runbook_kinds))
    items.sort(key=lambda item: (item.due_on, item.system.tier, item.system.name))
    return items


def due_items(*, on: date | None = None, within_days: int | None = None) -> list[DueItem]:
    """What the dashboard leads with: overdue first (most overdue first), then due soon."""
    items = [i for i in cadence_status(on=on, due_soon_days=within_days) if i.status != DueStatus.OK]
    return sorted(items, key=lambda i: (i.status != DueStatus.OVERDUE, i.due_on, i.system.tier, i.system.name))


def overdue_by_system(items: Iterable[DueItem]) -> dict[int, list[DueItem]]:
    found: dict[int, list[DueItem]] = {}
    for item in items:
        if item.is_overdue:
            found.setdefault(item.system.pk, []).append(item)
    return found


def held_in(starts: datetime, ends: datetime) -> dict[str, int]:
    """Drills held per cadence kind between two instants."""
    counts: dict[str, int] = {kind: 0 for kind in DrillKind.values}
    rows = (held_drills().filter(finished_at__gte=starts, finished_at__lt=ends).values("cadence_kind")
            .annotate(n=Count("pk")).order_by())
    for row in rows:
        counts[row["cadence_kind"]] = row["n"]
    return counts


def expected_per_quarter(systems: Iterable[System]) -> dict[str, float]:
    """How many drills of each kind the cadence asks for in three months, over these systems."""
    months = cadence_months()
    expected = {kind: 0.0 for kind in DrillKind.values}
    for system in systems:
        for kind in DrillKind.values:
            interval = months[(system.tier, kind)]
            if interval:
                expected[kind] += 3 / interval
    return expected
