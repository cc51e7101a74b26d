"""What a drill's own records prove, in the catalogue's words, and which controls that supports.

Read in bulk (a handful of queries for any number of drills), because the quarterly report maps a
year of drills at once. Only the drill's records count: a tabletop talks and proves no figure, a
dry-run walks through the plan and changes nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from drills.models import Drill, DrillEvent, Measurement, StepRun, marks_of
from runbooks.durations import format_duration
from runbooks.models import DrillKind, System

from .catalogue import Catalogue, Control, TestType, catalogue

HELD = (Drill.Status.SUCCEEDED, Drill.Status.FAILED)  # ran to its end, whatever it found

LIVE_TEST_TYPES = {
    DrillKind.BACKUP_RESTORE: TestType.FUNCTIONAL_RESTORE,
    DrillKind.PARTIAL_FAILOVER: TestType.LIVE_SWITCHOVER,
    DrillKind.FULL_FAILOVER: TestType.FULL_SCALE,
}


def test_type_of(*, mode: str, kind: str) -> TestType:
    """A tabletop talks the plan through; a dry-run walks through it against the real bindings without
    acting; a live drill is a functional restore, a live switchover or a full-scale test by its kind."""
    if mode == Drill.Mode.TABLETOP or kind == DrillKind.TABLETOP:
        return TestType.TABLETOP
    if mode == Drill.Mode.DRY_RUN:
        return TestType.WALK_THROUGH
    return LIVE_TEST_TYPES[kind]


class Support:
    YES = "yes"
    PARTIAL = "partial"
    NO = "no"


RANK = {Support.NO: 0, Support.PARTIAL: 1, Support.YES: 2}


@dataclass(frozen=True)
class DrillEvidence:
    drill_id: int
    system_id: int
    test_type: TestType
    held: bool
    succeeded: bool
    finished_at: datetime | None
    facts: frozenset[str]

    def supports(self, control: Control) -> str:
        """yes: held, of the test type the control asks for or more, with all its evidence, and it
        succeeded; partial: of the right type but something is missing or it failed; no: anything
        else. A drill of a weaker type never supports a control, however well it went."""
        if not self.held or self.test_type < control.min_test_type:
            return Support.NO
        if self.succeeded and all(e in self.facts for e in control.evidence):
            return Support.YES
        return Support.PARTIAL

    @property
    def passing(self) -> bool:
        """A passing recovery drill: a live restore or failover that succeeded within its targets."""
        return (self.held and self.succeeded and self.test_type >= TestType.FUNCTIONAL_RESTORE
                and "objectives_met" in self.facts)


def evidence_of(drills: Iterable[Drill], *, extra: dict[int, set[str]] | None = None) -> dict[int, DrillEvidence]:
    """Drill id → its evidence. ``extra`` adds what other apps know of a drill (the reviews app: lessons)."""
    drills = list(drills)
    ids = [d.pk for d in drills]
    live = {d.pk for d in drills if d.mode == Drill.Mode.LIVE and d.kind != DrillKind.TABLETOP}
    facts: dict[int, set[str]] = defaultdict(set)
    for drill_id, more in (extra or {}).items():
        facts[drill_id] |= more
    for drill_id in DrillEvent.objects.filter(drill_id__in=ids).values_list("drill_id", flat=True).distinct():
        facts[drill_id].add("timeline")
    figures: dict[int, list[bool | None]] = defaultdict(list)
    for drill_id, kind, met in Measurement.objects.filter(drill_id__in=live, value_seconds__isnull=False).values_list(
            "drill_id", "kind", "met"):
        facts[drill_id].add(f"{kind}_measured")
        figures[drill_id].append(met)
    for drill_id, results in figures.items():
        if all(met is True for met in results):
            facts[drill_id].add("objectives_met")
    for drill_id, marks, proof in StepRun.objects.filter(drill_id__in=live, status=StepRun.Status.SUCCEEDED).values_list(
            "drill_id", "marks", "evidence"):
        if "failback_complete" in (marks or {}):
            facts[drill_id].add("failback")
        if isinstance(proof, dict) and "verified" in proof and "tables" in proof:
            facts[drill_id].add("integrity")
    return {d.pk: DrillEvidence(drill_id=d.pk, system_id=d.system_id, test_type=test_type_of(mode=d.mode, kind=d.kind),
                                held=d.status in HELD, succeeded=d.status == Drill.Status.SUCCEEDED,
                                finished_at=d.finished_at, facts=frozenset(facts.get(d.pk, ())))
            for d in drills}


@dataclass(frozen=True)
class ControlSupport:
    control: Control
    support: str
    missing: tuple[str, ...] = ()  # the evidence the drill lacks, for a partial


def controls_supported(evidence: DrillEvidence, cat: Catalogue | None = None) -> list[ControlSupport]:
    """Every control of the frameworks followed, and how far this drill supports it."""
    cat = cat or catalogue()
    return [ControlSupport(c, s, tuple(e for e in c.evidence if e not in evidence.facts))
            for c in cat.controls for s in [evidence.supports(c)]]


# --- what a system's impact level calls for ------------------------------------------------------

@dataclass(frozen=True)
class ImpactWarning:
    system: System
    level: str
    needs: TestType
    highest: TestType | None

    @property
    def message(self) -> str:
        tested = f"only ever tested by {self.highest.label.lower()}" if self.highest else "never tested"
        return (f"{self.system.name} is {self.level}-impact ({self.system.tier_label}), which calls for a "
                f"{self.needs.label.lower()} or more; it was {tested}.")


def highest_test_types(system_ids: Iterable[int]) -> dict[int, TestType]:
    """System id → the strongest test it ever held to its end."""
    highest: dict[int, TestType] = {}
    for system_id, mode, kind in (Drill.objects.filter(system_id__in=list(system_ids), status__in=HELD)
                                  .values_list("system_id", "mode", "kind").distinct()):
        test_type = test_type_of(mode=mode, kind=kind)
        if test_type > highest.get(system_id, 0):
            highest[system_id] = test_type
    return highest


def impact_warnings(systems: Iterable[System], cat: Catalogue | None = None) -> list[ImpactWarning]:
    """Systems whose impact level (by tier) calls for more than was ever tested: a high-impact system
    only ever tabletopped, say."""
    cat = cat or catalogue()
    systems = list(systems)
    highest = highest_test_types(s.pk for s in systems)
    warnings = []
    for system in systems:
        level = cat.impact_level_of(system.tier)
        if level is None:
            continue
        tested = highest.get(system.pk)
        if tested is None or tested < level.min_test_type:
            warnings.append(ImpactWarning(system, level.name, level.min_test_type, tested))
    return warnings


# --- objectives and their results ----------------------------------------------------------------

@dataclass
class Objective:
    name: str
    criterion: str
    result: str
    passed: bool | None = None  # None: not judged (not measured, or a tabletop's estimate)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "NOT JUDGED"}[self.passed]


@dataclass
class Objectives:
    items: list[Objective] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return bool(self.items) and all(o.passed for o in self.items)


def objectives_of(drill: Drill, evidence: DrillEvidence) -> Objectives:
    """The drill's objectives and success criteria, each with its measured result and pass/fail: the
    RTO and RPO against the targets pinned when it started, and for a switchover the failback. A
    tabletop's or a dry-run's objectives are never judged: nothing was measured."""
    judged = drill.mode == Drill.Mode.LIVE and drill.kind != DrillKind.TABLETOP
    items = []
    for kind, target in (("rto", drill.rto_target_seconds), ("rpo", drill.rpo_target_seconds)):
        name = kind.upper()
        criterion = f"{name} within {format_duration(target)}"
        measurement = drill.measurement(kind) if judged else None
        if not judged:
            items.append(Objective(name, criterion, f"not measured ({drill.mode_word})"))
        elif measurement is None or measurement.value_seconds is None:
            items.append(Objective(name, criterion, "not measured", None if drill.status == Drill.Status.ABORTED else False))
        else:
            bound = f" ± {format_duration(measurement.error_bound_seconds)}" if measurement.error_bound_seconds is not None else ""
            items.append(Objective(name, criterion, f"{format_duration(measurement.value_seconds)}{bound}", measurement.met))
    if evidence.test_type >= TestType.LIVE_SWITCHOVER and not _is_a_failback(drill):
        items.append(_time_on_secondary(drill))
    if evidence.test_type >= TestType.LIVE_SWITCHOVER:
        done = "failback" in evidence.facts
        items.append(Objective("Failback", "normal functioning restored on the primary",
                               "failback completed" if done else "no failback recorded", done))
    return Objectives(items)


# A failback is linked to its failover by plans.FailbackLink. plans sits beside compliance, not below
# it, so it is read through the relations Django registers on Drill (``failback_link``) rather than by
# importing plans: the import graph stays one-way, and a drill without a link reads as none.

def _is_a_failback(drill: Drill) -> bool:
    return Drill.objects.filter(pk=drill.pk, failback_link__isnull=False).exists()


def _time_on_secondary(drill: Drill) -> Objective:
    """How long a switchover held the service on the secondary: from the failover's service_restored
    mark to the start of the failback linked to it or, with none linked, to the drill's end. It has
    no target: it passes when the service was restored on the secondary and held there."""
    name, criterion = "Time on the secondary", "the service runs on the secondary until failback"
    restored = marks_of(drill.step_runs.all()).get("service_restored")
    if restored is None:
        return Objective(name, criterion, "the service was never restored on the secondary",
                         None if drill.status == Drill.Status.ABORTED else False)
    failback = (Drill.objects.filter(failback_link__failover=drill, started_at__isnull=False)
                .order_by("started_at").first())
    if failback is not None:
        until, to_what = failback.started_at, f"to the start of failback drill #{failback.pk}"
    elif drill.finished_at is not None:
        until, to_what = drill.finished_at, "to the drill's end; no failback linked"
    else:
        return Objective(name, criterion, "still on the secondary: the drill is running")
    held = max((until - restored[0]).total_seconds(), 0.0)
    return Objective(name, criterion, f"held {format_duration(held)} (from service restored {to_what})", True)
