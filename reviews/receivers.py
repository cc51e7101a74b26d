"""What reviews does when drills announce something: a drill that starts gets its checklist, copied
from the template as it is at that moment."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from drills.models import EventKind
from drills.signals import event_recorded

from .checklist import ensure_checklist

STARTS = {EventKind.DRILL_STARTED, EventKind.TABLETOP_STARTED}


@receiver(event_recorded)
def copy_checklist_when_a_drill_starts(sender: Any, drill_id: int, kind: str, **kwargs: Any) -> None:
    if kind in STARTS:
        ensure_checklist(drill_id)
