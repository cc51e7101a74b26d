"""The quarterly report's action items, read from what drills teach (the lessons learned and their
action items, which the reviews app keeps). The one seam between that app and the programme: the
report asks only ``action_items_summary``.

Until the reviews app exists it answers None, and the report says that action items are not
tracked yet. Wiring it is a change to this module alone: count the items opened, closed and still
open at the quarter's end, and list the open ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from .quarters import Quarter


@dataclass
class OpenActionItem:
    title: str
    system: str
    owner: str
    opened_on: str
    due_on: str = ""


@dataclass
class ActionItemsSummary:
    opened: int
    closed: int
    open_at_end: int
    open_items: list[OpenActionItem] = field(default_factory=list)


def action_items_summary(quarter: Quarter) -> ActionItemsSummary | None:
    """Action items opened and closed in ``quarter`` and open at its end; None while not tracked."""
    return None
