"""RTO and RPO measured from evidence (docs/measurement.md).

RTO = service_restored − outage_start, both marks on one clock. When a health probe set
service_restored, the service came back between its last failed probe and its first success: that
gap is the error bound. RPO, by the best method the drill allows: the canary (outage start − newest
canary row surviving in the recovered copy, and the rows lost), else a figure a step recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runbooks.actions import ActionFailed, get_action

from .canary import writer_for
from .clock import clock_description
from .models import CanaryRun, CanaryWrite, Drill, StepRun, marks_of

PHASE_ORDER = ("people", "recover", "verify")


@dataclass
class MeasurementResult:
    kind: str
    value_seconds: float | None
    target_seconds: float
    method: str
    evidence: dict[str, Any] = field(default_factory=dict)
    error_bound_seconds: float | None = None
    lost_rows: int | None = None

    @property
    def met(self) -> bool | None:
        if self.value_seconds is None:
            return None
        if self.evidence.get("lower_bound_only") and self.value_seconds <= self.target_seconds:
            return None  # we only know it is at least this much
        return self.value_seconds <= self.target_seconds

    def as_fields(self) -> dict[str, Any]:
        return {"value_seconds": self.value_seconds, "target_seconds": self.target_seconds, "met": self.met,
                "method": self.method, "evidence": self.evidence, "error_bound_seconds": self.error_bound_seconds,
                "lost_rows": self.lost_rows}


def measure_drill(drill: Drill) -> list[MeasurementResult]:
    if drill.is_dry_run:
        return []
    runs = list(drill.step_runs.select_related("step").order_by("position"))
    marks = marks_of(runs)
    return [measure_rto(drill, runs, marks), measure_rpo(drill, runs, marks)]


def measure_rto(drill: Drill, runs: list[StepRun], marks: dict[str, tuple[datetime, StepRun]]) -> MeasurementResult:
    target = drill.rto_target_seconds
    if "outage_start" not in marks or "service_restored" not in marks:
        missing = [m for m in ("outage_start", "service_restored") if m not in marks]
        return MeasurementResult("rto", None, target, "not measured", {"reason": _why_unmarked(runs, missing)})
    outage_at, outage_run = marks["outage_start"]
    restored_at, restored_run = marks["service_restored"]
    value = (restored_at - outage_at).total_seconds()
    evidence: dict[str, Any] = {
        "clock": clock_description(),
        "outage_start": {"at": outage_at.isoformat(), "step": outage_run.step.name, "position": outage_run.position},
        "service_restored": {"at": restored_at.isoformat(), "step": restored_run.step.name,
                             "position": restored_run.position},
        "phases_seconds": rto_phases(runs, outage_at, restored_at),
    }
    probe = restored_run.evidence or {}
    error_bound = None
    if probe.get("first_success_at"):
        # The service came back after the last sign that it was down: the last failed probe, or the
        # outage start itself if the probe never saw it down.
        last_failure = probe.get("last_failure_at")
        lower = max(datetime.fromisoformat(last_failure), outage_at) if last_failure else outage_at
        error_bound = (restored_at - lower).total_seconds()
        evidence.update({
            "probe_url": probe.get("url"),
            "probe_interval_seconds": probe.get("interval_seconds"),
            "consecutive_successes": probe.get("consecutive"),
            "first_success_at": probe.get("first_success_at"),
            "last_failure_at": last_failure,
            "restored_not_before": lower.isoformat(),
        })
        method = "health probe: service_restored (first of N consecutive successes) − outage_start"
    else:
        method = "step marks: service_restored − outage_start"
    return MeasurementResult("rto", value, target, method, evidence, error_bound_seconds=error_bound)


def _why_unmarked(runs: list[StepRun], missing: list[str]) -> str:
    reasons = []
    for mark in missing:
        carriers = [run for run in runs if mark in (run.step.marks or [])]
        if not carriers:
            reasons.append(f"no step of the runbook marks {mark}")
        else:
            run = carriers[0]
            reasons.append(f"step {run.position} “{run.step.name}”, which marks {mark}, was {run.get_status_display().lower()}")
    return "; ".join(reasons)


def rto_phases(runs: list[StepRun], start: datetime, end: datetime) -> dict[str, float]:
    """Split [start, end] by what was happening: people, recovery actions, verification; time
    covered by no step is the engine's own (queueing and orchestration)."""
    intervals: list[tuple[datetime, datetime, str]] = []
    for run in runs:
        if not run.started_at:
            continue
        try:
            phase = get_action(run.step.action).phase
        except ActionFailed:
            phase = "recover"
        finished = run.finished_at or end
        if run.started_at < end and finished > start:
            intervals.append((max(run.started_at, start), min(finished, end), phase))
    cuts = sorted({start, end, *(a for a, _, _ in intervals), *(b for _, b, _ in intervals)})
    totals = {"people": 0.0, "recover": 0.0, "verify": 0.0, "orchestration": 0.0}
    for a, b in zip(cuts, cuts[1:]):
        covering = {phase for s, e, phase in intervals if s <= a and e >= b}
        phase = next((p for p in PHASE_ORDER if p in covering), "orchestration")
        totals[phase] += (b - a).total_seconds()
    return {k: round(v, 3) for k, v in totals.items()}


def measure_rpo(drill: Drill, runs: list[StepRun], marks: dict[str, tuple[datetime, StepRun]]) -> MeasurementResult:
    target = drill.rpo_target_seconds
    canary = CanaryRun.objects.filter(drill=drill).first()
    outage = marks.get("outage_start")
    recorded = rpo_figures_recorded_by_steps(runs, outage[0] if outage else None, target)
    if canary is not None and outage is not None:
        return beside_step_figures(_rpo_from_canary(drill, canary, outage[0], target), recorded)
    if recorded:
        return recorded[-1]
    reason = "the runbook has no canary and no step recorded an RPO" if canary is None else "no step marked outage_start"
    return MeasurementResult("rpo", None, target, "not measured", {"reason": reason})


def rpo_figures_recorded_by_steps(runs: list[StepRun], outage_at: datetime | None,
                                  target: float) -> list[MeasurementResult]:
    """The figures steps recorded (a cloud provider's facts), in step order: ``rpo_seconds`` as is, or
    ``rpo_recovered_to`` (the point in time the recovered copy holds, e.g. a point-in-time restore's)
    taken against outage_start."""
    figures = []
    for run in runs:
        evidence = run.evidence or {}
        method = evidence.get("rpo_method", f"recorded by step “{run.step.name}”")
        if isinstance(evidence.get("rpo_seconds"), (int, float)):
            figures.append(MeasurementResult("rpo", float(evidence["rpo_seconds"]), target, method,
                                             {"step": run.step.name, **evidence}))
        elif evidence.get("rpo_recovered_to") and outage_at is not None:
            recovered_to = datetime.fromisoformat(evidence["rpo_recovered_to"])
            figures.append(MeasurementResult("rpo", max((outage_at - recovered_to).total_seconds(), 0.0), target, method, {
                "step": run.step.name, **evidence, "clock": clock_description(), "outage_start": outage_at.isoformat(),
                # Restored to after the outage began: nothing written before it is lost, but the
                # copy may hold what the outage did (a corruption, a bad deployment's writes).
                "recovered_to_after_outage_start": recovered_to > outage_at,
            }))
    return figures


def beside_step_figures(result: MeasurementResult, recorded: list[MeasurementResult]) -> MeasurementResult:
    """The canary's figure wins, but what steps recorded (a provider's restore metadata) is kept
    beside it, and a gap wider than both figures' bounds is flagged: one of them is wrong."""
    if not recorded:
        return result
    figures = []
    for step in recorded:
        figure: dict[str, Any] = {"step": step.evidence.get("step"), "rpo_seconds": step.value_seconds,
                                  "rpo_method": step.method}
        if result.value_seconds is not None and step.value_seconds is not None:
            gap = abs(step.value_seconds - result.value_seconds)
            allowed = (result.error_bound_seconds or 0.0) + float(step.evidence.get("rpo_error_bound_seconds") or 0.0)
            figure.update(differs_by_seconds=round(gap, 3), disagrees=gap > allowed)
        figures.append(figure)
    result.evidence["step_figures"] = figures
    disagreeing = [f for f in figures if f.get("disagrees")]
    if disagreeing:
        result.evidence["disagreement"] = "; ".join(
            f"step “{f['step']}” recorded {f['rpo_seconds']:.3f} s, {f['differs_by_seconds']:.3f} s away from the "
            "canary's figure (more than both bounds)" for f in disagreeing)
    return result


def _rpo_from_canary(drill: Drill, canary: CanaryRun, outage_at: datetime, target: float) -> MeasurementResult:
    before_outage = CanaryWrite.objects.filter(canary=canary, written_at__lte=outage_at)
    written = before_outage.count()
    last_written = before_outage.order_by("-seq").first()
    first_written = before_outage.order_by("seq").first()
    evidence: dict[str, Any] = {
        "clock": clock_description(),
        "canary_target": canary.target,
        "canary_interval_seconds": canary.interval_seconds,
        "outage_start": outage_at.isoformat(),
        "rows_written_before_outage": written,
        "last_written_before_outage": {"seq": last_written.seq, "at": last_written.written_at.isoformat()} if last_written else None,
    }
    method = "canary: outage_start − newest canary row surviving in the recovered copy"
    try:
        writer = writer_for(drill, canary.target)
        evidence["read_from"] = writer.describe()
        survivor = writer.newest(drill.pk)
    except ActionFailed as error:
        evidence["reason"] = f"the recovered copy could not be read: {error}"
        return MeasurementResult("rpo", None, target, "not measured (canary unreadable)", evidence)
    if first_written is None:
        evidence["reason"] = "the canary wrote no row before the outage started"
        return MeasurementResult("rpo", None, target, "not measured (no canary rows)", evidence)
    if survivor is None:
        # Not one row of this drill survived: the copy predates the canary, so all we know is a floor.
        value = (outage_at - first_written.written_at).total_seconds()
        evidence.update({"newest_surviving": None, "lower_bound_only": True})
        return MeasurementResult("rpo", value, target, method + " (no row survived: at least this much)",
                                 evidence, error_bound_seconds=None, lost_rows=written)
    survivor_at = datetime.fromisoformat(survivor["written_at"])
    lost = before_outage.filter(seq__gt=survivor["seq"]).count()
    evidence["newest_surviving"] = {"seq": survivor["seq"], "at": survivor["written_at"]}
    value = max((outage_at - survivor_at).total_seconds(), 0.0)
    # The recovered copy holds everything up to some moment between the newest surviving row and the
    # moment the first row it lost had committed (or the outage, if it lost none). That gap, as
    # observed — not the nominal interval, which a busy worker stretches — is the bound.
    first_lost = before_outage.filter(seq__gt=survivor["seq"]).order_by("seq").first()
    window_end = (first_lost.committed_at or first_lost.written_at) if first_lost else outage_at
    evidence["loss_window"] = {"newest_surviving_at": survivor["written_at"], "ends_at": window_end.isoformat(),
                               "ends_with": "the first lost row" if first_lost else "the outage start"}
    evidence["canary_gaps_seconds"] = canary_gaps(before_outage)
    return MeasurementResult("rpo", value, target, method, evidence,
                             error_bound_seconds=max((window_end - survivor_at).total_seconds(), 0.0), lost_rows=lost)


def canary_gaps(writes: Any) -> dict[str, float] | None:
    """How evenly the canary wrote: the gaps between consecutive rows (the bound's context)."""
    times = list(writes.order_by("seq").values_list("written_at", flat=True))
    gaps = sorted((b - a).total_seconds() for a, b in zip(times, times[1:]))
    if not gaps:
        return None
    return {"count": len(gaps), "median": round(gaps[len(gaps) // 2], 3), "max": round(gaps[-1], 3)}
