"""A drill's result as one JSON document: what the CLI prints for pipelines and what the drill
page offers as its evidence pack (steps with their evidence, figures with their method and
evidence, approvals and the whole timeline)."""

from __future__ import annotations

from typing import Any

from runbooks.plans import step_plan

from .models import Drill, Measurement
from .tabletop import estimate_of


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def _figure(m: Measurement) -> dict[str, Any]:
    return {"kind": m.kind, "value_seconds": m.value_seconds, "error_bound_seconds": m.error_bound_seconds,
            "target_seconds": m.target_seconds, "met": m.met, "method": m.method, "lost_rows": m.lost_rows}


def drill_summary(drill: Drill) -> dict[str, Any]:
    """The figures and step outcomes a pipeline gates on: each achieved figure with its value, bound,
    target and method; a tabletop carries its estimates instead, and no achieved figure at all."""
    runs = list(drill.step_runs.select_related("step").order_by("position"))
    summary: dict[str, Any] = {
        "drill": drill.pk,
        "runbook": drill.runbook_version.runbook.slug,
        "version": drill.runbook_version.number,
        "system": drill.system.slug,
        "kind": drill.kind,
        "mode": drill.mode,
        "status": drill.status,
        "outcome": drill.outcome,
        "started_at": _iso(drill.started_at),
        "finished_at": _iso(drill.finished_at),
        "steps": [
            # A dry-run's step reads planned / would_fail, never succeeded: it changed nothing.
            {"position": s.position, "key": s.step.key, "name": s.step.name, "action": s.step.action,
             "status": s.shown_status.key if drill.is_dry_run else s.status, "attempt": s.attempt,
             "started_at": _iso(s.started_at), "finished_at": _iso(s.finished_at), "error": s.error or None}
            for s in runs
        ],
    }
    if drill.is_dry_run:
        plans = [step_plan(run.step, drill.targets) for run in runs]
        for entry, plan in zip(summary["steps"], plans):
            entry["plan"] = plan.does or plan.problem
        summary["changed"] = "nothing: a dry-run checks each step's plan and changes nothing"
        summary["a_live_run_would"] = [f"step {p.position}: {p.does}" for p in plans if p.changes_something]
    if drill.is_tabletop:
        estimate = estimate_of(runs)
        summary["estimates"] = {
            "what": "the team's estimates; a tabletop runs and measures nothing",
            "total_minutes": estimate.total_minutes, "recovery_minutes": estimate.recovery_minutes,
            "estimated_steps": estimate.estimated_items, "steps": estimate.items,
            "rto_target_seconds": drill.system.rto_target_seconds,
        }
        for entry, run in zip(summary["steps"], runs):
            entry.update({"estimated_minutes": run.estimated_minutes, "note": run.note or None,
                          "acted_by": str(run.acted_by) if run.acted_by_id else None})
        return summary
    measurements = {m.kind: m for m in drill.measurements.all()}
    rto, rpo = measurements.get("rto"), measurements.get("rpo")
    summary.update({
        "rto_seconds": rto.value_seconds if rto else None,
        "rto_error_bound_seconds": rto.error_bound_seconds if rto else None,
        "rto_target_seconds": rto.target_seconds if rto else None,
        "rto_met": rto.met if rto else None,
        "rto_method": rto.method if rto else None,
        "rpo_seconds": rpo.value_seconds if rpo else None,
        "rpo_error_bound_seconds": rpo.error_bound_seconds if rpo else None,
        "rpo_lost_rows": rpo.lost_rows if rpo else None,
        "rpo_target_seconds": rpo.target_seconds if rpo else None,
        "rpo_met": rpo.met if rpo else None,
        "rpo_method": rpo.method if rpo else None,
        "figures": [_figure(m) for m in (rto, rpo) if m is not None],
    })
    return summary


def drill_evidence_pack(drill: Drill) -> dict[str, Any]:
    """Everything an auditor needs to redo the sums, in one document."""
    pack = drill_summary(drill)
    pack["started_by"] = str(drill.started_by) if drill.started_by else None
    pack["runbook_version_hash"] = drill.runbook_version.content_hash
    pack["measurements"] = [{**_figure(m), "evidence": m.evidence, "measured_at": _iso(m.measured_at)}
                            for m in drill.measurements.all()]
    steps = {s.position: s for s in drill.step_runs.select_related("step", "acted_by")}
    for entry in pack["steps"]:
        run = steps[entry["position"]]
        entry.update({"params": run.step.params, "marks": run.marks, "evidence": run.evidence, "worker": run.worker,
                      "note": run.note or None, "acted_by": str(run.acted_by) if run.acted_by else None})
    if drill.scenario_version is not None:
        pack["scenario"] = {"slug": drill.scenario_version.scenario.slug, "version": drill.scenario_version.number,
                            "hash": drill.scenario_version.content_hash}
    pack["approvals"] = [
        {"gate": a.gate, "decision": a.decision, "decided_by": str(a.decided_by), "decided_at": _iso(a.decided_at),
         "comment": a.comment, "step_position": a.step_run.position if a.step_run else None}
        for a in drill.approvals.select_related("decided_by", "step_run")
    ]
    pack["timeline"] = [
        {"at": _iso(e.at), "kind": e.kind, "message": e.message, "actor": str(e.actor) if e.actor else None}
        for e in drill.events.select_related("actor").order_by("at", "id")
    ]
    return pack
