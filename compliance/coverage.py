"""The coverage matrix: for each control of the frameworks followed and each critical system, was
there evidence in the control's period (yes / partial / no), with the drills that give it; and the
share of critical systems with a passing drill in the last 365 days.

A control's period is its own: the ``every_months`` before the end of the reporting period (a yearly
DORA test looks back twelve months, a SOC 2 quarterly control three)."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from drills.models import Drill
from runbooks.models import System

from .catalogue import Catalogue, Control, catalogue
from .evidence import HELD, RANK, DrillEvidence, Support, evidence_of

PASSING_WINDOW = timedelta(days=365)


def months_before(moment: datetime, months: int) -> datetime:
    month0 = moment.month - 1 - months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def critical_systems() -> list[System]:
    """Systems supporting critical or important functions: those of the tiers named critical
    (``DRDRILL_CRITICAL_TIERS``, tiers 0 and 1 unless set)."""
    return list(System.objects.filter(tier__in=settings.DRDRILL_CRITICAL_TIERS).order_by("tier", "name"))


@dataclass
class Cell:
    system: System
    support: str = Support.NO
    drill_ids: list[int] = field(default_factory=list)  # the drills that give the best support found, oldest first

    @property
    def latest_drill_id(self) -> int | None:
        return self.drill_ids[-1] if self.drill_ids else None


@dataclass
class ControlRow:
    control: Control
    starts: datetime
    cells: list[Cell]  # one per system, in the matrix's system order

    @property
    def counts(self) -> tuple[int, int, int]:
        supports = [c.support for c in self.cells]
        return supports.count(Support.YES), supports.count(Support.PARTIAL), supports.count(Support.NO)

    @property
    def overall(self) -> str:
        """yes: every critical system has the evidence; no: none has any; partial otherwise."""
        supports = {c.support for c in self.cells}
        if supports == {Support.YES}:
            return Support.YES
        if supports <= {Support.NO}:
            return Support.NO
        return Support.PARTIAL


@dataclass
class CoverageMatrix:
    ends: datetime
    systems: list[System]
    rows: list[ControlRow]
    passing: dict[int, int | None]  # system id → its latest passing drill in the last 365 days, or None
    frameworks: dict[str, str]

    @property
    def passing_share(self) -> float | None:
        return None if not self.systems else sum(1 for v in self.passing.values() if v) / len(self.systems)

    @property
    def passing_count(self) -> int:
        return sum(1 for v in self.passing.values() if v)

    @property
    def by_system(self) -> list[tuple[System, list[tuple[ControlRow, Cell]], int | None]]:
        """The matrix a row per system: its cell for each control, and its latest passing drill."""
        return [(system, [(row, row.cells[n]) for row in self.rows], self.passing.get(system.pk))
                for n, system in enumerate(self.systems)]


def coverage_matrix(*, ends: datetime, systems: list[System] | None = None,
                    extra_facts: Callable[[list[int]], dict[int, set[str]]] | None = None,
                    cat: Catalogue | None = None) -> CoverageMatrix:
    """``extra_facts(drill ids)`` adds what other apps know of those drills (the reviews app: lessons)."""
    cat = cat or catalogue()
    systems = critical_systems() if systems is None else systems
    longest = max((c.every_months for c in cat.controls), default=12)
    starts = min(months_before(ends, longest), ends - PASSING_WINDOW)
    drills = list(Drill.objects.filter(system__in=systems, status__in=HELD, finished_at__gte=starts,
                                       finished_at__lt=ends).order_by("finished_at", "pk")
                  .only("pk", "system", "mode", "kind", "status", "finished_at"))
    extra = extra_facts([d.pk for d in drills]) if extra_facts else None
    evidence = evidence_of(drills, extra=extra)
    by_system: dict[int, list[DrillEvidence]] = {s.pk: [] for s in systems}
    for drill in drills:
        by_system[drill.system_id].append(evidence[drill.pk])

    rows = []
    for control in cat.controls:
        control_starts = months_before(ends, control.every_months)
        cells = []
        for system in systems:
            cell = Cell(system)
            for found in by_system[system.pk]:
                if found.finished_at < control_starts:
                    continue
                support = found.supports(control)
                if support == Support.NO:
                    continue
                if RANK[support] > RANK[cell.support]:
                    cell = Cell(system, support, [found.drill_id])
                elif support == cell.support:
                    cell.drill_ids.append(found.drill_id)
            cells.append(cell)
        rows.append(ControlRow(control, control_starts, cells))

    passing: dict[int, int | None] = {}
    for system in systems:
        recent = [e for e in by_system[system.pk] if e.finished_at >= ends - PASSING_WINDOW and e.passing]
        passing[system.pk] = recent[-1].drill_id if recent else None
    return CoverageMatrix(ends=ends, systems=systems, rows=rows, passing=passing, frameworks=cat.frameworks)
