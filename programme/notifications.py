"""The communication plan at work: who is told of what, the messages themselves, and their
delivery. Everything here runs in Celery tasks (programme/tasks.py), never in a drill's path: the
signal receivers only hand an id over.

A message is a Delivery row per subscription with a unique key (``event:<id>``, ``update:<drill>:<n>``
…), so an event told twice, or a beat tick run twice, sends once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from drills.models import Drill, DrillEvent, EventKind
from runbooks.durations import format_duration
from runbooks.models import System

from .cadence import DueItem
from .channels import DeliveryFailed, send
from .models import Delivery, PlannedDrill, Subscription

log = logging.getLogger("drdrill.notifications")
Event = Subscription.Event

# Timeline entries that are told, and as what. A drill's end is told by drills.signals.drill_ended
# (aborted drills included), once its figures are stored.
EVENT_OF_KIND: dict[str, str] = {
    EventKind.DRILL_STARTED: Event.STARTED,
    EventKind.DRILL_APPROVAL_REQUESTED: Event.APPROVAL,
    EventKind.STEP_WAITING: Event.AWAITED,
    EventKind.STEP_FAILED: Event.STEP_FAILED,
}
DEFAULT_EVENTS = [Event.STARTED, Event.APPROVAL, Event.AWAITED, Event.STEP_FAILED, Event.STALLED, Event.UPDATE,
                  Event.ENDED, Event.REPORT_DUE, Event.OVERDUE, Event.PLANNED]


def link(path: str) -> str:
    return settings.DRDRILL_BASE_URL.rstrip("/") + path


# --- who is told ----------------------------------------------------------------------------------

def subscriptions_for_drill(drill: Drill) -> list[Subscription]:
    """The drill's own plan (set on the drill or on the planned drill it came from) replaces its
    system's; otherwise the system's subscriptions and those for every system."""
    own = list(Subscription.objects.filter(Q(drill=drill) | Q(planned_drill__drill=drill)))
    if own:
        return own
    return subscriptions_for_system(drill.system_id)


def subscriptions_for_system(system_id: int | None, planned: PlannedDrill | None = None) -> list[Subscription]:
    if planned is not None:
        own = list(planned.subscriptions.all())
        if own:
            return own
    return list(Subscription.objects.filter(drill__isnull=True, planned_drill__isnull=True)
                .filter(Q(system_id=system_id) | Q(system__isnull=True)))


def queue(subscriptions: list[Subscription], *, event: str, key: str, subject: str, body: str,
          drill: Drill | None = None, system: System | None = None) -> list[int]:
    """Write one Delivery per subscription that wants ``event`` and has not had ``key`` yet, and hand
    each to the delivery task once this commits. Returns the new deliveries' ids."""
    wanted = [s for s in subscriptions if s.wants(event) and (drill is None or not drill.is_dry_run or s.include_dry_runs)]
    if not wanted:
        return []
    told = set(Delivery.objects.filter(subscription__in=wanted, key=key).values_list("subscription_id", flat=True))
    fresh = [s for s in wanted if s.pk not in told]
    # ignore_conflicts: a tick running twice at once writes one row per key, the unique key decides.
    Delivery.objects.bulk_create(
        [Delivery(subscription=s, drill=drill, system=system or (drill.system if drill else None), event=event,
                  key=key, subject=subject[:300], body=body) for s in fresh], ignore_conflicts=True)
    ids = list(Delivery.objects.filter(subscription__in=fresh, key=key).values_list("pk", flat=True))
    # By name, through the app's registry: programme.tasks imports this module.
    deliver_task = current_app.tasks["programme.tasks.deliver_notification"]
    for delivery_id in ids:
        transaction.on_commit(lambda d=delivery_id: deliver_task.delay(d))
    return ids


# --- the messages ---------------------------------------------------------------------------------

def _drill(drill_id: int) -> Drill | None:
    return (Drill.objects.select_related("system", "runbook_version__runbook", "started_by")
            .prefetch_related("measurements").filter(pk=drill_id).first())


def _title(drill: Drill) -> str:
    mode = {"dry_run": "Dry-run", "tabletop": "Tabletop"}.get(drill.mode, "Live drill")
    return f"{mode} #{drill.pk} · {drill.runbook_version.runbook.title} ({drill.system.name})"


def drill_event_messages(event_id: int) -> list[int]:
    event = DrillEvent.objects.filter(pk=event_id).first()
    kind = EVENT_OF_KIND.get(event.kind) if event else None
    drill = _drill(event.drill_id) if kind else None
    if drill is None:
        return []
    headline = {Event.STARTED: "started", Event.APPROVAL: "waits for approval to start",
                Event.AWAITED: "waits for a person", Event.STEP_FAILED: "a step failed"}[kind]
    body = f"{event.message}\n\n{_facts(drill)}\n{link(drill.get_absolute_url())}"
    return queue(subscriptions_for_drill(drill), event=kind, key=f"event:{event.pk}", drill=drill,
                 subject=f"{_title(drill)}: {headline}", body=body)


def drill_ended_messages(drill_id: int) -> list[int]:
    drill = _drill(drill_id)
    if drill is None or drill.finished_at is None:
        return []
    due = drill.finished_at + timedelta(hours=settings.DRDRILL_REPORT_DUE_HOURS)
    lines = [f"{_title(drill)} ended: {drill.get_status_display().lower()}.", drill.outcome, "", _facts(drill)]
    lines += _figures(drill)
    if not drill.is_dry_run:
        lines.append(f"The post-drill report is due by {timezone.localtime(due):%Y-%m-%d %H:%M}.")
    lines.append(link(drill.get_absolute_url()))
    return queue(subscriptions_for_drill(drill), event=Event.ENDED, key=f"ended:{drill.pk}:{drill.finished_at.isoformat()}",
                 drill=drill, subject=f"{_title(drill)}: {drill.get_status_display().lower()}",
                 body="\n".join(line for line in lines if line is not None))


def _facts(drill: Drill) -> str:
    started = timezone.localtime(drill.started_at).strftime("%Y-%m-%d %H:%M") if drill.started_at else "not yet"
    return (f"System: {drill.system.name} (tier {drill.system.tier}); runbook {drill.runbook_version.runbook.title} "
            f"v{drill.runbook_version.number}; started {started} by {drill.started_by or 'beat'}.")


def _figures(drill: Drill) -> list[str]:
    lines = []
    for label, m in (("RTO", drill.rto), ("RPO", drill.rpo)):
        if m is None:
            continue
        if m.value_seconds is None:
            lines.append(f"{label}: not measured ({m.method}).")
            continue
        verdict = {True: "MET", False: "MISSED"}.get(m.met, "UNDETERMINED")
        bound = f" ± {format_duration(m.error_bound_seconds)}" if m.error_bound_seconds else ""
        estimate = " (an estimate: tabletops prove no figure)" if drill.kind == "tabletop" or drill.mode == "tabletop" else ""
        lines.append(f"{label}: {format_duration(m.value_seconds)}{bound} against a target of "
                     f"{format_duration(m.target_seconds)}: {verdict}{estimate}. Method: {m.method}.")
    return lines


# --- what beat tells ------------------------------------------------------------------------------

def running_drill_messages(now: datetime) -> list[int]:
    """Status updates every N minutes of a running drill, and a warning when one has stalled."""
    ids: list[int] = []
    stall = timedelta(minutes=settings.DRDRILL_STALL_MINUTES)
    drills = (Drill.objects.filter(status__in=Drill.ACTIVE, sample=False)
              .select_related("system", "runbook_version__runbook", "started_by")
              .annotate(last_event_at=Max("events__at"), last_event_id=Max("events__id")))
    for drill in drills:
        subscriptions = subscriptions_for_drill(drill)
        if not subscriptions:
            continue
        running_for = now - drill.started_at if drill.started_at else timedelta(0)
        progress = _progress(drill)
        for subscription in subscriptions:
            n = int(running_for / timedelta(minutes=subscription.update_minutes))
            if n >= 1:
                ids += queue([subscription], event=Event.UPDATE, key=f"update:{drill.pk}:{n}", drill=drill,
                             subject=f"{_title(drill)}: running for {format_duration(running_for.total_seconds())}",
                             body=f"Status update: {progress}\n{link(drill.get_absolute_url())}")
        if drill.last_event_at and now - drill.last_event_at >= stall:
            quiet = format_duration((now - drill.last_event_at).total_seconds())
            ids += queue(subscriptions, event=Event.STALLED, key=f"stalled:{drill.pk}:{drill.last_event_id}", drill=drill,
                         subject=f"{_title(drill)}: no progress for {quiet}",
                         body=f"Nothing has happened on this drill for {quiet}. {progress}\n{link(drill.get_absolute_url())}")
    return ids


def _progress(drill: Drill) -> str:
    runs = list(drill.step_runs.select_related("step").order_by("position"))
    done = sum(1 for r in runs if r.status in ("succeeded", "skipped"))
    current = next((r for r in runs if r.status in ("running", "polling", "waiting", "failed")), None)
    now_doing = (f" Step {current.position} “{current.step.name}” is {current.get_status_display().lower()}."
                 if current else "")
    return f"{drill.get_status_display()}: {done} of {len(runs)} steps done.{now_doing}"


def report_reminders(now: datetime) -> list[int]:
    """A reminder once a drill ended DRDRILL_REPORT_REMINDER_HOURS ago: its report is due within 72 h."""
    ids: list[int] = []
    remind_after = timedelta(hours=settings.DRDRILL_REPORT_REMINDER_HOURS)
    due_after = timedelta(hours=settings.DRDRILL_REPORT_DUE_HOURS)
    drills = (Drill.objects.filter(status__in=Drill.FINISHED, sample=False, finished_at__lte=now - remind_after,
                                   finished_at__gt=now - due_after)
              .exclude(mode=Drill.Mode.DRY_RUN).select_related("system", "runbook_version__runbook", "started_by"))
    for drill in drills:
        due = timezone.localtime(drill.finished_at + due_after)
        ids += queue(subscriptions_for_drill(drill), event=Event.REPORT_DUE, key=f"report_due:{drill.pk}", drill=drill,
                     subject=f"{_title(drill)}: post-drill report due by {due:%Y-%m-%d %H:%M}",
                     body=f"The drill ended {timezone.localtime(drill.finished_at):%Y-%m-%d %H:%M}. The communication "
                          f"plan wants its report (what happened, lessons, action items) within "
                          f"{settings.DRDRILL_REPORT_DUE_HOURS:.0f} hours: by {due:%Y-%m-%d %H:%M}.\n"
                          f"{link(drill.get_absolute_url())}")
    return ids


def overdue_messages(items: list[DueItem]) -> list[int]:
    """One message per system, kind and due date it is overdue for."""
    ids: list[int] = []
    for item in items:
        if not item.is_overdue:
            continue
        last = f"last held {timezone.localtime(item.last_held):%Y-%m-%d}" if item.last_held else "never held"
        ids += queue(subscriptions_for_system(item.system.pk), event=Event.OVERDUE, system=item.system,
                     key=f"overdue:{item.system.pk}:{item.kind}:{item.due_on.isoformat()}",
                     subject=f"{item.system.name} is overdue for a {item.kind_label.lower()}",
                     body=f"{item.system.name} (tier {item.system.tier}) needs a {item.kind_label.lower()} every "
                          f"{item.interval_months} months; {last}, it was due on {item.due_on:%Y-%m-%d}.\n"
                          f"{link(item.system.get_absolute_url())}")
    return ids


def planned_drill_message(planned: PlannedDrill, *, subject: str, body: str) -> list[int]:
    return queue(subscriptions_for_system(planned.system_id, planned), event=Event.PLANNED, system=planned.system,
                 key=f"planned:{planned.pk}:{planned.status}", subject=subject, body=body)


# --- delivery -------------------------------------------------------------------------------------

def deliver(delivery_id: int, *, final_attempt: bool) -> bool:
    """Send one message. True when sent (or sent before); raises DeliveryFailed after recording the
    failure, for the task to retry. Never touches a drill."""
    delivery = Delivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.status == Delivery.Status.SENT:
        return True
    now = timezone.now()
    try:
        send(delivery.subscription, delivery.subject, delivery.body)
    except DeliveryFailed as failure:
        status = Delivery.Status.FAILED if final_attempt else Delivery.Status.RETRYING
        Delivery.objects.filter(pk=delivery.pk).update(status=status, attempts=delivery.attempts + 1,
                                                       last_error=str(failure)[:2000], last_attempt_at=now)
        log.warning("notification %s to %s failed: %s", delivery.pk, delivery.subscription.name, failure,
                    extra={"drill_id": delivery.drill_id})
        raise
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENT, attempts=delivery.attempts + 1,
                                                   last_attempt_at=now, sent_at=now, last_error="")
    return True


def delivery_log(drill: Drill) -> Any:
    return Delivery.objects.filter(drill=drill).select_related("subscription").order_by("created_at", "id")
