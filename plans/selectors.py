"""Reads for the plan pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from drills.models import Measurement

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


def plan_drill_rows(plan_drill: PlanDrill) -> list[RecoveryRow]:
    """Each system of a plan drill with its state as the plan sees it (waiting and blocked are the
    plan's own; the rest is its drill's) and its drill's figures, in recovery order."""
    recoveries = list(plan_drill.recoveries.select_related("system", "runbook_version__runbook", "drill")
                      .prefetch_related(Prefetch("drill__measurements", queryset=Measurement.objects.all()))
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
        rows.append(RecoveryRow(recovery=recovery, state=state, state_label=SystemRecovery.State(state).label,
                                wave=wave_of.get(recovery.system.slug, 0),
                                rto=drill.rto if drill else None, rpo=drill.rpo if drill else None))
    return rows

