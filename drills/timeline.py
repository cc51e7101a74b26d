"""A drill's timeline and the messages that move it: every change the engine or a person makes is
told by one event, written in the same transaction, and any nudge to a worker leaves only once that
transaction commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.db import transaction

from .clock import db_now
from .models import DrillEvent, EventKind, StepRun
from .signals import event_recorded

events_log = logging.getLogger("drdrill.events")


def send(task_name: str, object_id: int, *, countdown: float | None = None, queue: str | None = None,
         extra: tuple[Any, ...] = ()) -> None:
    """Send a nudge once the surrounding transaction commits (a worker must see what we wrote), on
    ``queue`` when the step must run on a particular worker."""
    def _send() -> None:
        current_app.send_task(task_name, args=[object_id, *extra], countdown=countdown if countdown and countdown > 0 else None,
                              queue=queue)

    transaction.on_commit(_send)


@dataclass(frozen=True)
class NewEvent:
    kind: EventKind
    message: str
    step_run_id: int | None = None
    data: dict[str, Any] | None = None


def record_events(drill_id: int, events: list[NewEvent], *, at: Any = None) -> list[DrillEvent]:
    """Several timeline entries in one statement (the engine's hot path writes two per step)."""
    if not events:
        return []
    at = at or db_now()
    rows = DrillEvent.objects.bulk_create([DrillEvent(drill_id=drill_id, step_run_id=e.step_run_id, kind=e.kind,
                                                      message=e.message, data=e.data or {}, at=at) for e in events])
    for row in rows:
        announce(drill_id, row.pk, str(row.kind), row.message, row.step_run_id)
    return rows


def announce(drill_id: int, event_id: int, kind: str, message: str, step_run_id: int | None) -> None:
    """Tell of an event written (in this transaction, or already committed): a log line and, once
    committed, the ``event_recorded`` signal."""
    # Every timeline event is a log line too, with its ids, for whoever watches logs, not pages.
    events_log.info(message, extra={"event": kind, "drill_id": drill_id, "step_run_id": step_run_id})
    if event_recorded.receivers:
        transaction.on_commit(lambda: event_recorded.send(sender=DrillEvent, drill_id=drill_id, event_id=event_id,
                                                          kind=kind, step_run_id=step_run_id))


def record_event(drill_id: int, kind: EventKind, message: str, *, step_run: StepRun | None = None, actor: Any = None,
                 data: dict[str, Any] | None = None, at: Any = None) -> DrillEvent:
    event = DrillEvent.objects.create(drill_id=drill_id, step_run=step_run, kind=kind, message=message,
                                      actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
                                      data=data or {}, at=at or db_now())
    announce(drill_id, event.pk, str(event.kind), message, event.step_run_id)
    return event


def step_label(step_run: StepRun) -> str:
    return f"Step {step_run.position} “{step_run.step.name}”"
