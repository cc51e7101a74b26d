"""Celery tasks of the programme: thin wrappers that take ids and call a service. Each is safe to
run twice (every message has a unique key; a delivery already sent is not sent again)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import archive, notifications, planning
from .cadence import cadence_status
from .channels import DeliveryFailed

log = logging.getLogger("drdrill.programme")


@shared_task(name="programme.tasks.notify_drill_event")
def notify_drill_event(event_id: int) -> int:
    return len(notifications.drill_event_messages(event_id))


@shared_task(name="programme.tasks.notify_drill_ended")
def notify_drill_ended(drill_id: int) -> int:
    return len(notifications.drill_ended_messages(drill_id))


@shared_task(name="programme.tasks.deliver_notification", bind=True)
def deliver_notification(self, delivery_id: int) -> None:
    """Retried with exponential backoff (DRDRILL_NOTIFY_RETRY_SECONDS × 2ⁿ); the last failure stays in
    the delivery log. A failure here never reaches a drill."""
    retries = self.request.retries
    final = retries >= settings.DRDRILL_NOTIFY_MAX_RETRIES
    try:
        notifications.deliver(delivery_id, final_attempt=final)
    except DeliveryFailed:
        if not final:
            raise self.retry(countdown=settings.DRDRILL_NOTIFY_RETRY_SECONDS * 2 ** retries,
                             max_retries=settings.DRDRILL_NOTIFY_MAX_RETRIES) from None


@shared_task(name="programme.tasks.programme_tick")
def programme_tick() -> None:
    """Beat: planned drills whose time came, running and stalled drills, report reminders, overdue
    systems. Each part runs even if another fails."""
    now = timezone.now()
    parts = (("planned drills", lambda: planning.start_due_planned_drills(now)),
             ("running drills", lambda: notifications.running_drill_messages(now)),
             ("report reminders", lambda: notifications.report_reminders(now)),
             ("overdue systems", lambda: notifications.overdue_messages(cadence_status())))
    for name, part in parts:
        try:
            part()
        except Exception:
            log.exception("programme tick: %s failed", name)


@shared_task(name="programme.tasks.archive_ended_quarter")
def archive_ended_quarter() -> str | None:
    return archive.archive_ended_quarter()
