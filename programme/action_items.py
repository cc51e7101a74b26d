"""The quarterly report's action items, read from what drills teach (the lessons learned and their
action items, which the reviews app keeps). The one seam between that app and the programme: the
report asks only ``action_items_summary``: the items opened and closed in the quarter, and those
still open at its end (a deficiency's item fixed but not yet verified by a re-test among them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from reviews.models import ActionItem

from .quarters import Quarter


@dataclass
class OpenActionItem:
    title: str
    system: str
    owner: str
    opened_on: str
    due_on: str = ""
    status: str = ""
    severity: str = ""


@dataclass
class ActionItemsSummary:
    opened: int
    closed: int
    open_at_end: int
    open_items: list[OpenActionItem] = field(default_factory=list)


def action_items_summary(quarter: Quarter) -> ActionItemsSummary | None:
    """Action items opened and closed in ``quarter``, and open at its end (or now, while it runs)."""
    ends = min(timezone.now(), quarter.ends_at)
    items = ActionItem.objects.all()
    opened = items.filter(created_at__gte=quarter.starts_at, created_at__lt=ends).count()
    closed = items.filter(closed_at__gte=quarter.starts_at, closed_at__lt=ends).count()
    still_open = (items.filter(created_at__lt=ends).filter(Q(closed_at__isnull=True) | Q(closed_at__gte=ends))
                  .select_related("system").order_by("due_date", "pk"))
    return ActionItemsSummary(opened=opened, closed=closed, open_at_end=still_open.count(), open_items=[
        OpenActionItem(title=item.title, system=item.system.name, owner=item.owner,
                       opened_on=timezone.localtime(item.created_at).date().isoformat(),
                       due_on=item.due_date.isoformat(), status=item.get_status_display(),
                       severity=item.get_severity_display() if item.severity else "")
        for item in still_open[:200]])
