"""What the drill's own records prove, for the checklist: an RTO or RPO measured, a baseline taken,
integrity verified, a failback done. Only a live drill proves anything: a dry-run plans and a
tabletop talks, and neither ticks an item by itself."""

from __future__ import annotations

from dataclasses import dataclass

from drills.models import Drill, StepRun
from runbooks.durations import format_duration

from .models import Evidence


@dataclass(frozen=True)
class Proof:
    summary: str   # what proves it, in words
    anchor: str    # where on the drill page the evidence is


def proofs_of(drill: Drill, step_runs: list[StepRun]) -> dict[str, Proof]:
    """Evidence value → its proof, for each item this drill's records prove."""
    if drill.mode != Drill.Mode.LIVE:
        return {}
    found: dict[str, Proof] = {}
    for measurement in drill.measurements.all():
        if measurement.value_seconds is None:
            continue
        bound = f" ± {format_duration(measurement.error_bound_seconds)}" if measurement.error_bound_seconds is not None else ""
        found[measurement.kind] = Proof(
            f"{measurement.get_kind_display()} {format_duration(measurement.value_seconds)}{bound} measured "
            f"({measurement.method})", f"evidence-{measurement.kind}")
    for run in step_runs:
        if run.status != StepRun.Status.SUCCEEDED:
            continue
        evidence = run.evidence or {}
        where = f"step-{run.position}"
        if "baseline_of" in evidence and Evidence.BASELINE not in found:
            found[Evidence.BASELINE] = Proof(f"baseline of {evidence['baseline_of']} taken by step {run.position} "
                                             f"“{run.step.name}”", where)
        if "verified" in evidence and "tables" in evidence:
            found[Evidence.INTEGRITY] = Proof(f"{evidence['verified']} matched its baseline (step {run.position} "
                                              f"“{run.step.name}”)", where)
        if "failback_complete" in (run.marks or {}):
            found[Evidence.FAILBACK] = Proof(f"failback completed by step {run.position} “{run.step.name}”", where)
    return found
