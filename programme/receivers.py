"""What the programme does when drills announce something: hand the id to a Celery task, nothing
more. These receivers run in the process that wrote the event (often a worker in a drill's hot
path), so they look at the kind first, send nothing when the communication plan has no line at all
(one indexed query instead of a task that would find nobody to tell), and never raise: a
notification must never slow or fail a drill."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from drills.signals import drill_ended, event_recorded

from .models import Subscription
from .notifications import EVENT_OF_KIND
from .tasks import notify_drill_ended, notify_drill_event

log = logging.getLogger("drdrill.notifications")


def anyone_subscribed() -> bool:
    return Subscription.objects.exists()


@receiver(event_recorded)
def tell_of_event(sender: Any, drill_id: int, event_id: int, kind: str, **kwargs: Any) -> None:
    if kind not in EVENT_OF_KIND:
        return
    try:
        if anyone_subscribed():
            notify_drill_event.delay(event_id)
    except Exception:
        log.exception("could not queue the notification of event %s", event_id, extra={"drill_id": drill_id})


@receiver(drill_ended)
def tell_of_end(sender: Any, drill_id: int, **kwargs: Any) -> None:
    try:
        if anyone_subscribed():
            notify_drill_ended.delay(drill_id)
    except Exception:
        log.exception("could not queue the notification of the end of drill %s", drill_id, extra={"drill_id": drill_id})
