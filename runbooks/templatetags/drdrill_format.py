"""Template filters shared by every page: durations as people read them, status colours, evidence."""

from __future__ import annotations

import json
from typing import Any

from django import template

from runbooks.durations import format_duration

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    return format_duration(seconds)


@register.filter
def status_class(status: str | None) -> str:
    """One CSS class per status, so a colour means the same thing on every page."""
    return f"status-{status or 'none'}"


@register.filter
def met_class(met: bool | None) -> str:
    return {True: "met", False: "missed"}.get(met, "unknown")  # type: ignore[arg-type]


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


PHASES = ("people", "recover", "verify", "orchestration")


@register.filter
def phase_segments(measurement: Any) -> list[dict[str, Any]]:
    """Consecutive segments of a 0–100 bar, one per RTO phase, for an SVG."""
    phases = (measurement.evidence or {}).get("phases_seconds") or {}
    total = sum(phases.get(p, 0.0) for p in PHASES)
    segments, x = [], 0.0
    for phase in PHASES:
        width = 100.0 * phases.get(phase, 0.0) / total if total else 0.0
        if width > 0:
            segments.append({"phase": phase, "x": round(x, 3), "width": round(width, 3)})
            x += width
    return segments


# The measurement marks in a coordinator's words, and what each one does to the figures.
MARKS = {
    "outage_start": ("outage starts", "The outage starts when this step finishes: the RTO and the outage clock count from here."),
    "service_restored": ("service restored", "The service counts as back when this step finishes: the RTO stops here."),
    "failback_complete": ("failback complete", "The system is back on its original site when this step finishes."),
}


@register.filter
def mark_label(mark: str) -> str:
    return MARKS.get(mark, (mark, ""))[0]


@register.filter
def mark_meaning(mark: str) -> str:
    return MARKS.get(mark, ("", "A measurement mark"))[1]
