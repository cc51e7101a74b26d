"""The quarterly DR report as data: one function computes it, and the page, the PDF, the CSV, the
command line and the archive all render what it returns (programme/documents.py).

Achieved figures come only from live recovery drills (programme/achieved.py); a figure passes when
it is within the system's current target."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from compliance.coverage import CoverageMatrix, coverage_matrix
from compliance.evidence import ImpactWarning, impact_warnings
from reviews.selectors import lesson_facts
from runbooks.models import DrillKind, System

from .achieved import achieved_between, achieved_by_period
from .action_items import ActionItemsSummary, action_items_summary
from .cadence import DueItem, cadence_status, expected_per_quarter, held_in
from .quarters import Quarter

TREND_QUARTERS = 8


@dataclass
class Figure:
    """One figure (RTO or RPO) of one system over the quarter."""

    target: float
    values: list[float] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def best(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def worst(self) -> float | None:
        return max(self.values) if self.values else None

    @property
    def passed(self) -> bool | None:
        return None if self.last is None else self.last <= self.target


@dataclass
class SystemResult:
    system: System
    rto: Figure
    rpo: Figure
    drills: int = 0  # live recovery drills with a figure, finished in the quarter
    sample_drills: int = 0
    overdue: list[DueItem] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """met: every figure of the quarter's last drill within target; missed: one is not."""
        results = [f.passed for f in (self.rto, self.rpo) if f.passed is not None]
        if not results:
            return "not drilled"
        return "met" if all(results) else "missed"


@dataclass
class KindResult:
    kind: str
    held: int
    expected: float
    overdue_systems: int

    @property
    def label(self) -> str:
        return DrillKind(self.kind).label

    @property
    def expected_rounded(self) -> int:
        return round(self.expected)


@dataclass
class TrendPoint:
    quarter: Quarter
    rto: float | None
    rpo: float | None


@dataclass
class QuarterlyReport:
    quarter: Quarter
    generated_at: datetime
    as_of: date  # the day cadence and overdue are judged on: the quarter's last day, or today
    results: list[SystemResult]
    kinds: list[KindResult]
    overdue: list[DueItem]
    quarters: list[Quarter]
    trend: dict[int, list[TrendPoint]]  # system id → one point per quarter, oldest first
    action_items: ActionItemsSummary | None
    sample_drills: int
    coverage: CoverageMatrix          # controls × critical systems, each control over its own period
    impact_warnings: list[ImpactWarning]

    @property
    def drilled(self) -> list[SystemResult]:
        return [r for r in self.results if r.verdict != "not drilled"]

    @property
    def meeting_targets(self) -> int:
        return sum(1 for r in self.results if r.verdict == "met")

    @property
    def missing_targets(self) -> int:
        return sum(1 for r in self.results if r.verdict == "missed")

    @property
    def held(self) -> int:
        return sum(k.held for k in self.kinds)

    @property
    def expected(self) -> int:
        return round(sum(k.expected for k in self.kinds))

    @property
    def overdue_systems(self) -> int:
        return len({item.system.pk for item in self.overdue})

    @property
    def is_complete(self) -> bool:
        return self.quarter.has_ended()

    def trend_of(self, system: System) -> list[TrendPoint]:
        return self.trend.get(system.pk, [])

    def trend_systems(self) -> list[System]:
        """Systems with an achieved figure in any of the trend's quarters, most critical first."""
        return [r.system for r in self.results if any(p.rto is not None or p.rpo is not None
                                                      for p in self.trend.get(r.system.pk, []))]

    def quarter_verdicts(self) -> list[tuple[Quarter, int, int]]:
        """Per trend quarter: systems whose last figures met their targets, and those that missed."""
        counts = []
        for n, quarter in enumerate(self.quarters):
            met = missed = 0
            for result in self.results:
                points = self.trend.get(result.system.pk)
                if not points:
                    continue
                point = points[n]
                checks = [v <= t for v, t in ((point.rto, result.rto.target), (point.rpo, result.rpo.target))
                          if v is not None]
                if checks:
                    met, missed = (met + 1, missed) if all(checks) else (met, missed + 1)
            counts.append((quarter, met, missed))
        return counts


def system_trend(system: System, quarter: Quarter) -> list[TrendPoint]:
    """One system's last achieved RTO and RPO in each of the trend's quarters (for its chart)."""
    quarters = quarter.last(TREND_QUARTERS)
    values: dict[tuple[Quarter, str], float] = {}
    for _, kind, value, _, finished_at, _ in achieved_between(quarters[0].starts_at, quarter.ends_at, system=system):
        values[(Quarter.of(finished_at), kind)] = value
    return [TrendPoint(q, values.get((q, "rto")), values.get((q, "rpo"))) for q in quarters]


def quarterly_report(quarter: Quarter) -> QuarterlyReport:
    now = timezone.now()
    as_of = min(timezone.localdate(), quarter.last_day)
    systems = list(System.objects.order_by("tier", "name"))
    quarters = quarter.last(TREND_QUARTERS)
    results = {s.pk: SystemResult(s, Figure(float(s.rto_target_seconds)), Figure(float(s.rpo_target_seconds)))
               for s in systems}
    trend_values: dict[int, dict[tuple[int, str], float]] = {}
    last = len(quarters) - 1
    counted: set[int] = set()
    sample: set[int] = set()
    bounds = [q.starts_at for q in quarters] + [quarter.ends_at]
    for system_id, kind, value, drill_id, n, is_sample in achieved_by_period(bounds):
        result = results.get(system_id)
        if result is None:
            continue
        # Rows are oldest first, so the last one written per quarter is that quarter's last figure.
        trend_values.setdefault(system_id, {})[(n, kind)] = value
        if n == last:
            (result.rto if kind == "rto" else result.rpo).values.append(value)
            if drill_id not in counted:
                counted.add(drill_id)
                result.drills += 1
                result.sample_drills += is_sample
        if is_sample:
            sample.add(drill_id)
    trend = {pk: [TrendPoint(q, values.get((n, "rto")), values.get((n, "rpo"))) for n, q in enumerate(quarters)]
             for pk, values in trend_values.items()}

    overdue = [item for item in cadence_status(on=as_of, held_before=min(now, quarter.ends_at), systems=systems)
               if item.is_overdue]
    for item in overdue:
        results[item.system.pk].overdue.append(item)
    held = held_in(quarter.starts_at, quarter.ends_at)
    expected = expected_per_quarter(systems)
    kinds = [KindResult(kind, held[kind], expected[kind], len({i.system.pk for i in overdue if i.kind == kind}))
             for kind in DrillKind.values]
    # Evidence up to the quarter's end (or now, while it runs): an issued report says the same thing
    # every time it is drawn.
    coverage = coverage_matrix(ends=min(now, quarter.ends_at), extra_facts=lesson_facts)
    return QuarterlyReport(quarter=quarter, generated_at=now, as_of=as_of, results=list(results.values()),
                           kinds=kinds, overdue=overdue, quarters=quarters, trend=trend,
                           action_items=action_items_summary(quarter), sample_drills=len(sample),
                           coverage=coverage, impact_warnings=impact_warnings(coverage.systems))
