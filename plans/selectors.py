"""Reads for the plan pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from drills.models import Measurement, StepRun
from drills.tabletop import Estimate, estimate_of

from .models import PlanDrill, SystemRecovery
from .yaml_format import stages_of


@dataclass
class RecoveryRow:
    recovery: SystemRecovery
    state: str
    state_label: str
    wave: int
    rto: Measurement | None
    rpo: Measurement | None
    # A tabletop plan drill: the team's estimates for this system's runbook, never a measurement.
    estimate: Estimate | None = None


# What a system's state means when the plan is walked as a tabletop: nothing recovers on paper.
TABLETOP_LABELS = {
    SystemRecovery.State.RUNNING: "Being walked through",
    SystemRecovery.State.SUCCEEDED: "Walked through",
    SystemRecovery.State.BLOCKED: "Blocked: a system it waits for was not walked through",
    SystemRecovery.State.WAITING: "Waiting for the systems it depends on to be walked",
}


def plan_drill_rows(plan_drill: PlanDrill) -> list[RecoveryRow]:
    """Each system of a plan drill with its state as the plan sees it (waiting and blocked are the
    plan's own; the rest is its drill's) and its drill's figures, in recovery order."""
    recoveries = list(plan_drill.recoveries.select_related("system", "runbook_version__runbook", "drill")
                      .prefetch_related(Prefetch("drill__measurements", queryset=Measurement.objects.all()),
                                        Prefetch("drill__step_runs", queryset=StepRun.objects.select_related("step")))
                      .order_by("position"))
    wave_of = {entry["system"]: i for i, wave in enumerate(stages_of(plan_drill.plan_version.systems), start=1)
               for entry in wave}
    states: dict[str, str] = {}
    rows = []
    for recovery in recoveries:
        state = recovery.drill_state()
        if state is None:
            waited = [states.get(slug) for slug in recovery.after]
            stopped = (SystemRecovery.State.FAILED, SystemRecovery.State.ABORTED, SystemRecovery.State.BLOCKED)
            state = SystemRecovery.State.BLOCKED if any(s in stopped for s in waited) else SystemRecovery.State.WAITING
            if plan_drill.status == PlanDrill.Status.ABORTED:
                state = SystemRecovery.State.ABORTED
        states[recovery.system.slug] = state
        drill = recovery.drill
        if plan_drill.is_tabletop:
            rows.append(RecoveryRow(recovery=recovery, state=state, wave=wave_of.get(recovery.system.slug, 0),
                                    state_label=TABLETOP_LABELS.get(state, SystemRecovery.State(state).label),
                                    rto=None, rpo=None,
                                    estimate=estimate_of(list(drill.step_runs.all())) if drill else None))
            continue
        rows.append(RecoveryRow(recovery=recovery, state=state, state_label=SystemRecovery.State(state).label,
                                wave=wave_of.get(recovery.system.slug, 0),
                                rto=drill.rto if drill else None, rpo=drill.rpo if drill else None))
    return rows


def estimated_service_recovery(rows: list[RecoveryRow]) -> int | None:
    """The service's estimated recovery in minutes over a tabletop plan drill: the longest chain of
    the systems' estimated recovery times through the plan's order (a system starts once everything
    it waits for is back). None until every system's recovery was estimated. An estimate, never a
    measurement."""
    back_at: dict[str, int] = {}
    for row in rows:  # in recovery order: what a system waits for comes first
        if row.estimate is None or row.estimate.recovery_minutes is None:
            return None
        start = max((back_at[slug] for slug in row.recovery.after), default=0)
        back_at[row.recovery.system.slug] = start + row.estimate.recovery_minutes
    return max(back_at.values(), default=None)

