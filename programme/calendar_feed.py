"""The programme's calendar as an iCalendar feed (RFC 5545) a coordinator subscribes to: planned
drills at their time, and each system's next due drill as an all-day entry. Calendar apps cannot
sign in, so each person gets a secret feed link; only its digest is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction

from .cadence import DueItem
from .models import CalendarFeedToken, PlannedDrill
from .notifications import link


def feed(planned: list[PlannedDrill], due: list[DueItem]) -> bytes:
    from icalendar import Calendar, Event  # loaded when a feed is served, not in every worker

    calendar = Calendar()
    calendar.add("prodid", "-//drdrill//DR programme//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "DR programme (drdrill)")
    for drill in planned:
        title = drill.runbook_version.runbook.title
        event = Event()
        event.add("uid", f"planned-drill-{drill.pk}@drdrill")
        event.add("dtstamp", drill.planned_at)
        event.add("dtstart", drill.scheduled_at)
        event.add("dtend", drill.scheduled_at + timedelta(hours=1))
        mode = "dry-run" if drill.mode == "dry_run" else "live"
        event.add("summary", f"{drill.get_kind_display()} ({mode}): {title} · {drill.system.name}")
        event.add("description", f"Planned by {drill.planned_by}. {drill.get_status_display()}. {drill.outcome}".strip())
        event.add("url", link("/programme/calendar/"))
        event.add("status", "CANCELLED" if drill.status == PlannedDrill.Status.CANCELLED else "CONFIRMED")
        calendar.add_component(event)
    for item in due:
        event = Event()
        event.add("uid", f"due-{item.system.pk}-{item.kind}-{item.due_on.isoformat()}@drdrill")
        event.add("dtstamp", item.last_held or item.system.created_at)
        event.add("dtstart", item.due_on)
        event.add("dtend", item.due_on + timedelta(days=1))
        prefix = "OVERDUE" if item.is_overdue else "Due"
        event.add("summary", f"{prefix}: {item.kind_label} of {item.system.name} (tier {item.system.tier})")
        event.add("description", f"Every {item.interval_months} months for tier {item.system.tier}. "
                                 + (f"Last held {item.last_held:%Y-%m-%d}." if item.last_held else "Never held."))
        event.add("url", link(item.system.get_absolute_url()))
        calendar.add_component(event)
    return calendar.to_ical()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token(user: Any) -> str:
    """A new secret link for ``user`` (the old one stops working). Shown once."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeedToken.objects.filter(user=user).delete()
        CalendarFeedToken.objects.create(user=user, digest=_digest(token))
    return token


def user_of_token(token: str) -> Any:
    found = CalendarFeedToken.objects.select_related("user").filter(digest=_digest(token)).first() if token else None
    return found.user if found and found.user.is_active else None
