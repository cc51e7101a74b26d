"""The canary writer of a live drill: rows written into the target at a steady pace until the outage
starts, so the recovered copy tells which writes survived (the RPO, docs/measurement.md).

A live drill with a canary starts here, in a worker: the canary first checks it may and can write to
its target (the worker's policy, then the target itself); only then does the first step run. A
canary that cannot write fails the drill before anything was touched."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.db.models import F, Q

from runbooks.actions import ActionFailed, CanaryWriter, binding_access, canary_writer

from .clock import db_now
from .models import CanaryRun, CanaryWrite, Drill, EventKind, StepRun, marks_of
from .timeline import record_event, send
from .worker_policy import worker_policy


def drill_marks(drill_id: int) -> dict[str, datetime]:
    runs = StepRun.objects.filter(drill_id=drill_id).exclude(marks={}).only("pk", "marks")
    return {name: at for name, (at, _) in marks_of(runs).items()}


def outage_left_open(drill_id: int) -> bool:
    """The drill marked outage_start and no step marked service_restored."""
    marks = drill_marks(drill_id)
    return "outage_start" in marks and "service_restored" not in marks


def stop(drill_id: int, reason: str) -> None:
    CanaryRun.objects.filter(drill_id=drill_id, status__in=(CanaryRun.Status.CHECKING, CanaryRun.Status.WRITING)).update(
        status=CanaryRun.Status.STOPPED, stopped_reason=reason)


def resume(drill_id: int) -> None:
    """A drill resumed before its outage started writes canary rows again."""
    if "outage_start" not in drill_marks(drill_id):
        if CanaryRun.objects.filter(drill_id=drill_id).update(status=CanaryRun.Status.WRITING, stopped_reason="",
                                                               next_tick_at=None):
            send("drills.tasks.canary_tick", drill_id)


def writer_for(drill: Drill, target: str) -> CanaryWriter:
    """The writer for the drill's pinned binding, once the worker's policy allows what it touches."""
    binding = drill.targets.get(target, {})
    worker_policy().check_all(binding_access(binding))
    return canary_writer(binding)


def _check_before_the_first_step(canary: CanaryRun) -> bool:
    """Returns whether the drill may go on; a canary that cannot write fails it with the reason. The
    tick that moves the canary on from checking starts the steps once it wrote its first row (see
    tick), so that the first backup of the drill already holds a row to measure the RPO by."""
    try:
        writer_for(canary.drill, canary.target).check()
    except ActionFailed as error:
        with transaction.atomic():
            now = db_now()
            reason = f"The canary cannot write to target {canary.target!r}: {error}. Nothing was run."
            failed = Drill.objects.filter(pk=canary.drill_id, status__in=Drill.ACTIVE).update(
                status=Drill.Status.FAILED, finished_at=now, outcome=reason)
            if failed:
                StepRun.objects.filter(drill_id=canary.drill_id).update(status=StepRun.Status.CANCELLED, finished_at=now)
                stop(canary.drill_id, "could not write")
                record_event(canary.drill_id, EventKind.DRILL_FAILED, reason, at=now)
        return False
    # Whoever moves the canary on from checking starts the steps: a duplicate message does not.
    if CanaryRun.objects.filter(pk=canary.pk, status=CanaryRun.Status.CHECKING).update(status=CanaryRun.Status.WRITING):
        canary.status = CanaryRun.Status.WRITING
        return True
    return False


def tick(drill_id: int) -> None:
    canary = CanaryRun.objects.select_related("drill", "drill__system").filter(drill_id=drill_id).first()
    if canary is None or canary.status == CanaryRun.Status.STOPPED:
        return
    if canary.drill.status not in Drill.ACTIVE:
        stop(drill_id, f"drill {canary.drill.status}")
        return
    if canary.status != CanaryRun.Status.CHECKING:
        _beat(canary, drill_id)
    elif _check_before_the_first_step(canary):
        try:
            _beat(canary, drill_id)
        finally:
            # The steps start after the first row is written (or could not be): a backup taken at
            # once must not predate every canary row. A lost message here is the sweep's to make up.
            current_app.send_task("drills.tasks.advance_drill", args=[drill_id])


def _beat(canary: CanaryRun, drill_id: int) -> None:
    """One canary row, on the canary's fixed schedule, and the message for the next."""
    outage = drill_marks(drill_id).get("outage_start")
    if outage is not None:
        # RPO is defined at the outage start: nothing written after it can count, so stop there.
        stop(drill_id, f"outage started at {outage.isoformat()}")
        return
    now = db_now()
    interval = timedelta(seconds=canary.interval_seconds)
    scheduled = canary.next_tick_at
    if scheduled is not None and scheduled > now + interval / 2:
        return  # an early duplicate: this beat's own message is on its way
    # Beats on a fixed schedule (the last beat + the interval), not "an interval after this tick":
    # time spent waiting for a free worker is then not added to every later gap. A tick that fell more
    # than an interval behind starts a new schedule from now rather than a burst of catch-up writes.
    following = scheduled + interval if scheduled is not None and now - scheduled < interval else now + interval
    # One chain of ticks per drill: of two messages for this beat, one takes it.
    this_beat = Q(next_tick_at__isnull=True) if scheduled is None else Q(next_tick_at=scheduled)
    if not CanaryRun.objects.filter(this_beat, pk=canary.pk, status=CanaryRun.Status.WRITING).update(next_tick_at=following):
        return
    seq = canary.last_seq + 1
    try:
        writer_for(canary.drill, canary.target).write(drill_id, seq, now)
    except ActionFailed as error:
        CanaryRun.objects.filter(pk=canary.pk).update(failed_writes=F("failed_writes") + 1, last_error=str(error))
    else:
        committed_at = db_now()
        with transaction.atomic():
            CanaryWrite.objects.create(canary=canary, seq=seq, written_at=now, committed_at=committed_at)
            CanaryRun.objects.filter(pk=canary.pk).update(last_seq=seq)
    current_app.send_task("drills.tasks.canary_tick", args=[drill_id],
                          countdown=max((following - db_now()).total_seconds(), 0.0))


def resend_stalled(now: datetime, stale: timedelta) -> int:
    """The sweep's part for canaries: restart a chain of ticks whose message was lost."""
    sent = 0
    for canary in CanaryRun.objects.filter(status__in=(CanaryRun.Status.CHECKING, CanaryRun.Status.WRITING),
                                           drill__status__in=Drill.ACTIVE):
        if canary.next_tick_at is None or canary.next_tick_at < now - timedelta(seconds=3 * canary.interval_seconds) - stale:
            CanaryRun.objects.filter(pk=canary.pk).update(next_tick_at=None)
            current_app.send_task("drills.tasks.canary_tick", args=[canary.drill_id])
            sent += 1
    return sent
