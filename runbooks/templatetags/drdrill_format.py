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


@register.filter
def percent_of(part: float | None, whole: float | None) -> float:
    if not part or not whole:
        return 0.0
    return round(100.0 * part / whole, 1)
