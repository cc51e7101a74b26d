"""The drill engine: a state machine over StepRun rows, driven by Celery messages.

The database is the source of truth; a message only says "look at step run M" or "look at drill N".
- A worker claims a step run with a conditional UPDATE (pending → running, attempt + 1, a fresh
  claim token and a lease). A duplicate message finds the step claimed and does nothing.
- Tasks are acked late and rejected when their worker is lost, so a killed worker's message comes
  back. It finds the step still claimed; it checks again when the lease runs out and then reclaims
  the step. The action checks the real state before acting again (idempotency).
- An action that waits returns PollAgain; the engine stores its continuation and schedules the next
  poll with a countdown. No call holds a worker for long, so no message outlives the broker's
  visibility timeout.
- Results are recorded only by the holder of the current claim token, so a worker that was presumed
  dead and wakes up later cannot overwrite what its successor recorded.
- Beat runs ``sweep()``: it re-sends the message for any step whose message was lost (a broker
  restart, a dead worker holding a countdown), so progress never depends on a message surviving.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from runbooks.actions import (
    ActionFailed,
    Done,
    Outcome,
    PollAgain,
    StepContext,
    WaitForPerson,
    accesses_of,
    get_action,
    parse_params,
)

from . import canary, resources
from .clock import db_now
from .measurement import measure_drill
from .models import Drill, EventKind, Measurement, StepRun
from .redaction import redact, secret_values, shorten
from .signals import drill_ended
from .timeline import record_event, send, step_label
from .worker_policy import worker_policy

log = logging.getLogger("drdrill.engine")

# What a step's error and the texts in its evidence are cut to, after redaction.
ERROR_CHARS = 2000
EVIDENCE_TEXT_CHARS = 1000

ACTIVE_STEP_STATUSES = (StepRun.Status.PENDING, StepRun.Status.RUNNING, StepRun.Status.POLLING, StepRun.Status.WAITING)


@dataclass(frozen=True)
class Failure:
    message: str


@dataclass(frozen=True)
class Recheck:
    after_seconds: float


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- moving a drill forward -----------------------------------------------------------------------

def stages(step_runs: list[StepRun]) -> list[list[StepRun]]:
    """Consecutive steps sharing a group form one stage and run in parallel; a stage starts when
    every step of the one before it has succeeded or been skipped."""
    result: list[list[StepRun]] = []
    for run in step_runs:
        group = run.step.group
        if result and group and result[-1][0].step.group == group:
            result[-1].append(run)
        else:
            result.append([run])
    return result


def advance(drill_id: int) -> None:
    """Look at a drill and dispatch what can run now; end it when nothing is left. Safe to call
    any number of times from anywhere."""
    with transaction.atomic():
        drill = Drill.objects.select_for_update().filter(pk=drill_id).first()
        if drill is None or drill.status not in Drill.ACTIVE:
            return
        runs = list(drill.step_runs.select_related("step").order_by("position"))
        now = db_now()
        for stage in stages(runs):
            if all(r.status in StepRun.DONE for r in stage):
                continue
            active = [r for r in stage if r.status in ACTIVE_STEP_STATUSES]
            failed = [r for r in stage if r.status in (StepRun.Status.FAILED, StepRun.Status.CANCELLED)]
            if failed and not active:
                first = failed[0]
                drill.status = Drill.Status.FAILED
                drill.finished_at = now
                drill.outcome = f"Step {first.position} “{first.step.name}” failed: {first.error}"
                drill.save(update_fields=["status", "finished_at", "outcome"])
                record_event(drill.pk, EventKind.DRILL_FAILED, drill.outcome, step_run=first, at=now)
                send("drills.tasks.measure_drill", drill.pk)
                return
            for run in stage:
                if run.status == StepRun.Status.PENDING and run.dispatched_at is None:
                    StepRun.objects.filter(pk=run.pk).update(dispatched_at=now)
                    send("drills.tasks.run_step", run.pk)
            waiting = any(r.status == StepRun.Status.WAITING for r in stage)
            wanted = Drill.Status.WAITING if waiting else Drill.Status.RUNNING
            if drill.status != wanted:
                drill.status = wanted
                drill.save(update_fields=["status"])
            return
        # Every step is done: measure and close the drill in a worker (reading the canary is I/O).
        send("drills.tasks.finish_drill", drill.pk)


def finish(drill_id: int) -> None:
    drill = Drill.objects.filter(pk=drill_id, status__in=Drill.ACTIVE).first()
    if drill is None:
        return
    if drill.step_runs.exclude(status__in=StepRun.DONE).exists():
        advance(drill_id)
        return
    results = measure_drill(drill)
    with transaction.atomic():
        now = db_now()
        closed = Drill.objects.filter(pk=drill_id, status__in=Drill.ACTIVE).update(
            status=Drill.Status.SUCCEEDED, finished_at=now, outcome="Every step succeeded or was skipped.")
        if not closed:
            return
        _store_measurements(drill_id, results)
        canary.stop(drill_id, "drill finished")
        record_event(drill_id, EventKind.DRILL_SUCCEEDED, "Drill finished: every step succeeded or was skipped.",
                     data={m.kind: m.value_seconds for m in results}, at=now)
        transaction.on_commit(lambda: drill_ended.send(sender=Drill, drill_id=drill_id))


def measure_failed(drill_id: int) -> None:
    """A failed drill still tells what it measured before it stopped."""
    drill = Drill.objects.filter(pk=drill_id, status=Drill.Status.FAILED).first()
    if drill is None:
        return
    results = measure_drill(drill)
    with transaction.atomic():
        if Drill.objects.filter(pk=drill_id, status=Drill.Status.FAILED).exists():
            _store_measurements(drill_id, results)
            canary.stop(drill_id, "drill failed")
            transaction.on_commit(lambda: drill_ended.send(sender=Drill, drill_id=drill_id))


def _store_measurements(drill_id: int, results: list[Any]) -> None:
    for result in results:
        Measurement.objects.update_or_create(drill_id=drill_id, kind=result.kind, defaults=result.as_fields())


# --- executing one step ---------------------------------------------------------------------------

def lease_seconds(step_run: StepRun) -> float:
    action = get_action(step_run.step.action)
    params = parse_params(action.Params, step_run.step.params)
    return action.call_timeout(params) + settings.DRDRILL_LEASE_GRACE_SECONDS


def claim(step_run_id: int, worker: str) -> tuple[StepRun, str] | Recheck | None:
    """Take the step for this worker, or say why not. Returns (step run, "run"|"poll")."""
    step_run = StepRun.objects.select_related("step", "drill").filter(pk=step_run_id).first()
    if step_run is None or step_run.drill.status not in Drill.ACTIVE:
        return None
    now = db_now()
    token = uuid.uuid4().hex
    lease_until = now + timedelta(seconds=lease_seconds(step_run))
    # Only columns of the row itself in the WHERE: PostgreSQL re-checks them against the row a
    # concurrent claimer just committed, whereas a join (drill status) would be evaluated in a
    # subquery on the old snapshot and let both claimers through.
    claimable = StepRun.objects.filter(pk=step_run_id)
    common = {"status": StepRun.Status.RUNNING, "claim_token": token, "lease_expires_at": lease_until, "worker": worker}
    status = step_run.status
    with transaction.atomic():
        if status == StepRun.Status.PENDING:
            # Only a dispatched step runs, and not before its time (a retry's backoff): a stray or
            # early duplicate message must not run a step out of order. The conditional UPDATE
            # decides (dispatched_at__lte excludes an undispatched step): it reads the latest row,
            # where the SELECT above may have read an older one.
            if step_run.dispatched_at is not None and step_run.dispatched_at > now:
                return Recheck(after_seconds=(step_run.dispatched_at - now).total_seconds() + 0.05)
            claimed = claimable.filter(status=StepRun.Status.PENDING, dispatched_at__lte=now).update(
                attempt=F("attempt") + 1, phase="run", started_at=Coalesce("started_at", Value(now)), **common)
            phase = "run"
        elif status == StepRun.Status.POLLING:
            if step_run.next_poll_at and step_run.next_poll_at > now:
                return None  # an early duplicate: the real poll is already scheduled
            claimed = claimable.filter(status=StepRun.Status.POLLING, next_poll_at__lte=now).update(phase="poll", **common)
            phase = "poll"
        elif status == StepRun.Status.RUNNING:
            if step_run.lease_expires_at and step_run.lease_expires_at > now:
                # Claimed by a live worker, or by one that just died: look again when the lease ends.
                return Recheck(after_seconds=(step_run.lease_expires_at - now).total_seconds() + 0.5)
            claimed = claimable.filter(status=StepRun.Status.RUNNING, claim_token=step_run.claim_token).update(
                attempt=F("attempt") + 1, **common)
            phase = step_run.phase
        else:
            return None
        if not claimed:
            return None
        step_run.refresh_from_db()
        if status == StepRun.Status.RUNNING:
            record_event(step_run.drill_id, EventKind.STEP_RECLAIMED,
                         f"{step_label(step_run)}: its worker was lost; attempt {step_run.attempt} "
                         f"on {worker} checks the real state and continues.", step_run=step_run, at=now)
        elif phase == "run":
            record_event(step_run.drill_id, EventKind.STEP_STARTED,
                         f"{step_label(step_run)} started (attempt {step_run.attempt}) on {worker}.",
                         step_run=step_run, at=now)
    return step_run, phase


def context_for(step_run: StepRun) -> StepContext:
    earlier = {
        run.step.key: run.evidence
        for run in StepRun.objects.filter(drill_id=step_run.drill_id, status=StepRun.Status.SUCCEEDED,
                                          position__lt=step_run.position).select_related("step").order_by("position")
    }
    return StepContext(
        drill_id=step_run.drill_id,
        step_key=step_run.step.key,
        attempt=step_run.attempt,
        targets=step_run.drill.targets,
        earlier=earlier,
        state=step_run.poll_state or {},
        idempotency_key=f"drdrill-drill-{step_run.drill_id}-step-{step_run.pk}",
        now=db_now,
        started_at=step_run.started_at,
        created_resources=resources.undeleted_of(step_run.drill_id),
        policy=worker_policy(),
    )


def execute(step_run_id: int) -> None:
    """What a ``run_step`` message does."""
    worker = worker_name()
    claimed = claim(step_run_id, worker)
    if claimed is None:
        return
    if isinstance(claimed, Recheck):
        current_app.send_task("drills.tasks.run_step", args=[step_run_id], countdown=claimed.after_seconds)
        return
    step_run, phase = claimed
    outcome = redact_outcome(perform(step_run, phase), step_run.drill.targets)
    record_outcome(step_run.pk, step_run.claim_token, outcome)


def redact_outcome(outcome: Outcome | Failure, targets: dict[str, Any]) -> Outcome | Failure:
    """Whatever an action echoed back is stored without the secrets it may contain, and only then
    shortened: cutting first could leave a secret's first characters on the page."""
    secrets = secret_values(targets)
    if isinstance(outcome, Failure):
        return Failure(shorten(redact(outcome.message, secrets), ERROR_CHARS))
    if isinstance(outcome, (Done, PollAgain)):
        return dataclasses.replace(outcome, evidence=shorten(redact(outcome.evidence, secrets), EVIDENCE_TEXT_CHARS))
    return outcome


def perform(step_run: StepRun, phase: str) -> Outcome | Failure:
    step = step_run.step
    try:
        action = get_action(step.action)
        params = parse_params(action.Params, step.params)
        ctx = context_for(step_run)
        # The trust boundary: nothing the worker's policy does not allow is touched, by a dry-run's
        # plan() as by run() and poll().
        ctx.allow(*accesses_of(action, params, ctx))
        if step_run.drill.is_dry_run:
            return Done(evidence={"dry_run": True, **action.plan(params, ctx)})
        if phase == "poll":
            return action.poll(params, ctx)
        return action.run(params, ctx)
    except (ActionFailed, ValueError) as error:
        return Failure(str(error))
    except Exception as error:  # an action's bug must fail its step, not wedge the drill
        log.exception("step run %s (%s) raised", step_run.pk, step.action)
        return Failure(f"unexpected error in {step.action}: {type(error).__name__}: {error}")


def record_outcome(step_run_id: int, token: str, outcome: Outcome | Failure) -> None:
    with transaction.atomic():
        # Lock the step run and its drill only: a lock on the joined step and system rows, which every
        # drill of the runbook shares, would serialise them all and deadlock with a drill start's
        # foreign-key checks.
        step_run = (StepRun.objects.select_for_update(of=("self", "drill"))
                    .select_related("step", "drill", "drill__system").filter(pk=step_run_id).first())
        if step_run is None or step_run.claim_token != token or step_run.status != StepRun.Status.RUNNING:
            log.warning("step run %s: result of a superseded claim dropped", step_run_id)
            return
        drill = step_run.drill
        aborted = drill.status == Drill.Status.ABORTED
        now = db_now()
        step = step_run.step
        label = step_label(step_run)
        step_run.lease_expires_at = None
        if isinstance(outcome, PollAgain) and not aborted:
            elapsed = (now - step_run.started_at).total_seconds()
            if elapsed > step.timeout_seconds:
                outcome = Failure(f"timed out after {elapsed:.0f} s (the step allows {step.timeout_seconds:.0f} s)")
        if isinstance(outcome, (Done, PollAgain)) and outcome.created:
            resources.record_created(step_run, outcome.created, now)
        if isinstance(outcome, Done) and outcome.deleted:
            resources.record_deleted(drill.pk, outcome.deleted, now, by=f"step {step_run.position} “{step.name}”")
        if isinstance(outcome, Done):
            step_run.status = StepRun.Status.SUCCEEDED
            step_run.finished_at = now
            step_run.evidence = outcome.evidence
            step_run.marks = {mark: (outcome.marks.get(mark) or now).isoformat() for mark in step.marks}
            step_run.error = ""
            record_event(drill.pk, EventKind.STEP_SUCCEEDED, f"{label} succeeded.", step_run=step_run, at=now,
                         data={"marks": step_run.marks} if step_run.marks else None)
        elif aborted and not isinstance(outcome, Failure):
            step_run.status = StepRun.Status.CANCELLED
            step_run.finished_at = now
            record_event(drill.pk, EventKind.STEP_CANCELLED, f"{label} cancelled: the drill was aborted.", step_run=step_run, at=now)
        elif isinstance(outcome, PollAgain):
            step_run.status = StepRun.Status.POLLING
            step_run.next_poll_at = now + timedelta(seconds=outcome.after_seconds)
            step_run.poll_state = outcome.state
            if outcome.evidence:
                step_run.evidence = outcome.evidence
            send("drills.tasks.run_step", step_run.pk, countdown=outcome.after_seconds)
        elif isinstance(outcome, WaitForPerson):
            step_run.status = StepRun.Status.WAITING
            step_run.evidence = {"instructions": outcome.instructions}
            Drill.objects.filter(pk=drill.pk, status=Drill.Status.RUNNING).update(status=Drill.Status.WAITING)
            who = "an approver's decision" if get_action(step.action).is_approval_gate else "a participant"
            record_event(drill.pk, EventKind.STEP_WAITING, f"{label} waits for {who}: {outcome.instructions}",
                         step_run=step_run, at=now)
        else:
            assert isinstance(outcome, Failure)
            step_run.error = outcome.message
            if step_run.attempt <= step.retries and not aborted:
                delay = min(2 ** step_run.attempt, 30)
                step_run.status = StepRun.Status.PENDING
                step_run.poll_state = {}
                step_run.dispatched_at = now + timedelta(seconds=delay)
                record_event(drill.pk, EventKind.STEP_RETRYING,
                             f"{label} attempt {step_run.attempt} failed: {outcome.message}. Retrying in {delay} s.",
                             step_run=step_run, at=now)
                send("drills.tasks.run_step", step_run.pk, countdown=delay)
            else:
                step_run.status = StepRun.Status.FAILED
                step_run.finished_at = now
                record_event(drill.pk, EventKind.STEP_FAILED, f"{label} failed: {outcome.message}", step_run=step_run, at=now)
        step_run.save()
        if not aborted:
            transaction.on_commit(lambda: advance(drill.pk))


# --- the sweeper ----------------------------------------------------------------------------------

def sweep() -> int:
    """Re-send what a lost message would have sent. Returns how many nudges were sent."""
    now = db_now()
    stale = timedelta(seconds=max(settings.DRDRILL_SWEEP_SECONDS * 2, 2))
    sent = 0
    active = StepRun.objects.filter(drill__status__in=Drill.ACTIVE)
    overdue = active.filter(
        Q(status=StepRun.Status.PENDING, dispatched_at__lt=now - stale)
        | Q(status=StepRun.Status.POLLING, next_poll_at__lt=now - stale)
        | Q(status=StepRun.Status.RUNNING, lease_expires_at__lt=now)
    ).values_list("pk", flat=True)
    for step_run_id in overdue:
        current_app.send_task("drills.tasks.run_step", args=[step_run_id])
        sent += 1
    for drill_id in Drill.objects.filter(status__in=Drill.ACTIVE).values_list("pk", flat=True):
        advance(drill_id)
    sent += canary.resend_stalled(now, stale)
    sent += resources.send_expired_for_cleanup(now)
    return sent
