"""The business service's RTO over a plan drill (docs/plans.md#measurement).

Each system's RTO and RPO are its own drill's measurements (drills/measurement.py), taken from
evidence. The service is down from the first outage start of any system until the last system is
restored: RTO = max(service_restored) − min(outage_start), both marks on the one measurement clock.
A system's restored mark is known within its own bound (it came back after its last failed probe),
so the service came back no earlier than max(restored − bound) over the systems: that gap is the
service figure's bound.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import SystemRecovery


def service_rto(recoveries: list[SystemRecovery], *, target_seconds: float | None, dry_run: bool,
                tabletop: bool = False) -> dict[str, Any]:
    """A dict stored on the plan drill: value, bound, target, met, method and the evidence (each
    system's outage start and restoration against the service's outage start)."""
    base: dict[str, Any] = {"value_seconds": None, "error_bound_seconds": None, "target_seconds": target_seconds,
                            "met": None}
    if tabletop:
        # Estimates are the team's guesses, never an achieved figure: the page shows them as such.
        return {**base, "method": "not measured", "reason": "a tabletop is walked on paper and measures nothing"}
    if dry_run:
        return {**base, "method": "not measured", "reason": "a dry-run changes nothing and measures nothing"}
    spans = []
    for recovery in recoveries:
        drill = recovery.drill
        rto = drill.rto if drill is not None else None
        if rto is None or rto.value_seconds is None:
            why = "it did not recover" if drill is None or drill.status != "succeeded" else \
                (rto.evidence.get("reason") if rto is not None else "its drill stored no RTO")
            return {**base, "method": "not measured",
                    "reason": f"{recovery.system.name} has no measured RTO: {why}"}
        bound = rto.error_bound_seconds or 0.0
        spans.append({
            "system": recovery.system.slug, "name": recovery.system.name,
            "drill_started_at": drill.started_at, "outage_start": _at(rto.evidence["outage_start"]["at"]),
            "restored": _at(rto.evidence["service_restored"]["at"]), "bound": bound,
            "rto_seconds": rto.value_seconds, "rto_error_bound_seconds": rto.error_bound_seconds,
        })
    outage_start = min(spans, key=lambda s: s["outage_start"])
    last = max(spans, key=lambda s: s["restored"])
    value = (last["restored"] - outage_start["outage_start"]).total_seconds()
    earliest_possible = max(s["restored"].timestamp() - s["bound"] for s in spans)
    bound = last["restored"].timestamp() - earliest_possible
    zero = outage_start["outage_start"]
    return {
        **base,
        "value_seconds": value,
        "error_bound_seconds": round(bound, 6) if any(s["bound"] for s in spans) else None,
        "met": value <= target_seconds if target_seconds is not None else None,
        "method": "first system's outage_start to the last system's service_restored",
        "outage_start": {"at": zero.isoformat(), "system": outage_start["system"]},
        "service_restored": {"at": last["restored"].isoformat(), "system": last["system"]},
        # The phases: when each system's drill started and when it was back, from the service's outage start.
        "systems": [{"system": s["system"], "name": s["name"],
                     "drill_started_seconds": (s["drill_started_at"] - zero).total_seconds(),
                     "outage_start_seconds": (s["outage_start"] - zero).total_seconds(),
                     "restored_seconds": (s["restored"] - zero).total_seconds(),
                     "rto_seconds": s["rto_seconds"], "rto_error_bound_seconds": s["rto_error_bound_seconds"]}
                    for s in spans],
    }


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
