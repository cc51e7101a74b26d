"""Failback linked to its failover (docs/plans.md#failback): after a failover drill, *Start failback*
offers the system's failback runbooks (those whose latest version marks ``failback_complete``) and
starts one linked to that failover; the pair is shown together on both drills' pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.roles import Capability, check
from audit.services import record
from drills.models import Drill, StepRun, marks_of
from drills.services import DrillActionRefused, drill_start
from runbooks.models import DrillKind, Runbook, System

from .models import FailbackLink

FAILOVER_KINDS = (DrillKind.PARTIAL_FAILOVER, DrillKind.FULL_FAILOVER)


def failback_runbooks(system: System) -> list[Runbook]:
    """The system's runbooks that fail back: their latest version has a step marking failback_complete."""
    runbooks = []
    for runbook in Runbook.objects.filter(system=system).prefetch_related("versions__steps").order_by("title"):
        latest = max(runbook.versions.all(), key=lambda v: v.number, default=None)
        if latest is not None and any("failback_complete" in step.marks for step in latest.steps.all()):
            runbooks.append(runbook)
    return runbooks


def can_fail_back(drill: Drill) -> bool:
    """A failover that succeeded, live or as a dry-run, and is not itself a failback."""
    return (drill.kind in FAILOVER_KINDS and not drill.is_tabletop and drill.status == Drill.Status.SUCCEEDED
            and not FailbackLink.objects.filter(failback=drill).exists())


def start_failback(*, failover: Drill, runbook: Runbook, user: Any, mode: str = Drill.Mode.LIVE,
                   confirmation: str | None = None) -> Drill:
    """Start ``runbook`` (its latest version) as the failback of ``failover``, linked both ways."""
    check(user, Capability.COORDINATE, "start failbacks")
    if not can_fail_back(failover):
        raise DrillActionRefused(f"Drill #{failover.pk} is not a succeeded failover: a failback starts from a "
                                 "failover drill that succeeded (and is not itself a failback).")
    if mode not in (Drill.Mode.LIVE, Drill.Mode.DRY_RUN):
        raise DrillActionRefused("A failback runs live or as a dry-run.")
    if runbook.system_id != failover.system_id:
        raise DrillActionRefused(f"{runbook.title} recovers {runbook.system}, not {failover.system}: fail back "
                                 "with a runbook of the same system.")
    if runbook not in failback_runbooks(failover.system):
        raise DrillActionRefused(f"{runbook.title} is not a failback runbook: none of its steps marks "
                                 "failback_complete.")
    with transaction.atomic():
        failback = drill_start(runbook_version=runbook.latest_version, user=user, mode=mode, confirmation=confirmation)
        FailbackLink.objects.create(failover=failover, failback=failback, started_by=user)
        record("drill.failback_started", actor=user, obj=failback, drill_id=failback.pk,
               after={"failover_drill": failover.pk, "runbook": runbook.slug},
               summary=f"started drill {failback.pk} ({runbook.slug}) as the failback of failover drill {failover.pk}")
    return failback


@dataclass
class CarriedTable:
    """One table's data across the pair, from the integrity steps' evidence (postgres.baseline and
    postgres.verify): what the service wrote while it ran on the secondary, and whether the restored
    primary holds it."""

    table: str
    rows_after_failover: int | None  # the failover's last verification: the secondary right after it took over
    rows_on_secondary: int  # the failback's baseline: the secondary when the failback began
    rows_on_primary: int | None  # the failback's verification: the restored primary
    verified: bool | None  # count and checksum equal to the baseline; None: not verified (yet)

    @property
    def written_on_secondary(self) -> int | None:
        return None if self.rows_after_failover is None else self.rows_on_secondary - self.rows_after_failover


@dataclass
class FailbackPair:
    failover: Drill
    failback: Drill
    # From the failover's service_restored to the failback's outage_start: the service ran on the secondary.
    on_secondary_seconds: float | None
    failback_complete_at: datetime | None
    carried_back: list[CarriedTable]


def _integrity(step_runs: list[StepRun], kind: str) -> dict[str, dict[str, Any]]:
    """The tables of the last finished step whose evidence is a baseline (``baseline_of``) or a
    verification (``verified``) — the shape the postgres integrity actions record."""
    tables: dict[str, dict[str, Any]] = {}
    for run in sorted(step_runs, key=lambda r: r.position):
        evidence = run.evidence or {}
        if run.status == StepRun.Status.SUCCEEDED and kind in evidence and isinstance(evidence.get("tables"), dict):
            tables = evidence["tables"]
    return tables


def carried_back(failover_runs: list[StepRun], failback_runs: list[StepRun]) -> list[CarriedTable]:
    """The data written on the secondary and carried back to the primary, table by table: the
    failback's baseline is taken on the secondary before anything moves, its verification compares
    the restored primary with it, so a match means every row written on the secondary is there."""
    after_failover = _integrity(failover_runs, "verified")
    baseline = _integrity(failback_runs, "baseline_of")
    verified = _integrity(failback_runs, "verified")
    return [CarriedTable(table=name, rows_after_failover=after_failover.get(name, {}).get("rows"),
                         rows_on_secondary=figures["rows"], rows_on_primary=verified.get(name, {}).get("rows"),
                         verified=verified[name]["matches"] if name in verified else None)
            for name, figures in baseline.items()]


def pairs_of(drill: Drill) -> list[FailbackPair]:
    """The failover/failback pairs this drill belongs to: its own failover if it is a failback, its
    failbacks if it is a failover."""
    links = FailbackLink.objects.filter(failover=drill) | FailbackLink.objects.filter(failback=drill)
    pairs = []
    for link in links.select_related("failover__system", "failback__system").prefetch_related(
            "failover__step_runs", "failback__step_runs", "failback__measurements").order_by("created_at"):
        restored = marks_of(link.failover.step_runs.all()).get("service_restored")
        back_marks = marks_of(link.failback.step_runs.all())
        switched = back_marks.get("outage_start")
        complete = back_marks.get("failback_complete")
        on_secondary = (switched[0] - restored[0]).total_seconds() if restored and switched else None
        pairs.append(FailbackPair(failover=link.failover, failback=link.failback, on_secondary_seconds=on_secondary,
                                  failback_complete_at=complete[0] if complete else None,
                                  carried_back=carried_back(list(link.failover.step_runs.all()),
                                                            list(link.failback.step_runs.all()))))
    return pairs
