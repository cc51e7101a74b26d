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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q

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
from .claims import (
    ClaimedRow,
    NewRow,
    claim_following,
    claim_for_message,
    claim_for_message_in_one_round_trip,
    claim_next,
    lock_drill,
    one_round_trip,
    record_poll,
    record_success_and_take_following,
)
from .clock import db_now
from .lazy import LazyMapping, LazySequence
from .log_context import log_context
from .measurement import measure_drill
from .models import Drill, EventKind, Measurement, StepRun
from .pins import PinnedDrill, PinnedStep, pinned_drill
from .redaction import redact, secret_values, shorten
from .signals import drill_ended
from .timeline import NewEvent, announce, record_event, record_events, send
from .worker_policy import worker_policy
from .worker_state import serves, shutting_down

log = logging.getLogger("drdrill.engine")

# A poll due sooner than this goes out at once rather than as a countdown (see complete()).
IMMEDIATE_POLL_SECONDS = 0.05
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


# --- deciding what comes next ----------------------------------------------------------------------

@dataclass(frozen=True)
class RunState:
    """One step run as the decision needs it: read in one query for the whole drill."""

    id: int
    position: int
    status: str
    dispatched: bool
    error: str
    step_id: int


@dataclass
class Move:
    fail_at: RunState | None = None          # the drill fails on this step
    dispatch: list[RunState] = field(default_factory=list)  # steps of the stage to send now
    waiting: bool = False                    # a step of the stage waits for a person
    finished: bool = False                   # every step succeeded or was skipped


def stages(drill: PinnedDrill, runs: list[RunState]) -> list[list[RunState]]:
    """Consecutive steps sharing a group form one stage and run in parallel; a stage starts when
    every step of the one before it has succeeded or been skipped."""
    result: list[list[RunState]] = []
    for run in runs:
        group = drill.step_at(run.position).group
        if result and group and drill.step_at(result[-1][0].position).group == group:
            result[-1].append(run)
        else:
            result.append([run])
    return result


def next_move(drill: PinnedDrill, runs: list[RunState]) -> Move:
    """The one place the stage rule is written: what a drill does next, given its steps' statuses."""
    for stage in stages(drill, runs):
        if all(r.status in StepRun.DONE for r in stage):
            continue
        active = [r for r in stage if r.status in ACTIVE_STEP_STATUSES]
        failed = [r for r in stage if r.status in (StepRun.Status.FAILED, StepRun.Status.CANCELLED)]
        if failed and not active:
            return Move(fail_at=failed[0])
        return Move(dispatch=[r for r in stage if r.status == StepRun.Status.PENDING and not r.dispatched],
                    waiting=any(r.status == StepRun.Status.WAITING for r in stage))
    return Move(finished=True)


def run_states(drill_id: int) -> list[RunState]:
    return [RunState(id_, position, status, dispatched_at is not None, error, step_id)
            for id_, position, status, dispatched_at, error, step_id in StepRun.objects.filter(drill_id=drill_id)
            .order_by("position").values_list("id", "position", "status", "dispatched_at", "error", "step_id")]


def send_step(drill: PinnedDrill, step_run_id: int, position: int, *, countdown: float | None = None) -> None:
    """A ``run_step`` message, after commit, on the queue the step's target names (if any)."""
    queue = drill.queue_of(drill.step_at(position))
    send("drills.tasks.run_step", step_run_id, countdown=countdown, queue=queue, extra=(drill.id, position))


def apply_move(drill: PinnedDrill, status: str, move: Move, now: datetime, events: list[NewEvent],
               *, continue_as: str | None = None) -> Claimed | None:
    """Carry out a move inside the transaction that holds the drill's lock. With ``continue_as``
    (a worker's name), a single next step the worker may run is claimed for it here and returned
    instead of being sent through the broker."""
    if move.fail_at is not None:
        run = move.fail_at
        outcome = f"{drill.step_at(run.position).label} failed: {run.error}"
        if Drill.objects.filter(pk=drill.id, status__in=Drill.ACTIVE).update(status=Drill.Status.FAILED,
                                                                            finished_at=now, outcome=outcome):
            events.append(NewEvent(EventKind.DRILL_FAILED, outcome, step_run_id=run.id))
            send("drills.tasks.measure_drill", drill.id)
        return None
    if move.finished:
        # Every step is done: measure and close the drill in a worker (reading the canary is I/O).
        send("drills.tasks.finish_drill", drill.id)
        return None
    wanted = Drill.Status.WAITING if move.waiting else Drill.Status.RUNNING
    if status != wanted:
        Drill.objects.filter(pk=drill.id, status__in=Drill.ACTIVE).update(status=wanted)
    claimed = None
    to_send = move.dispatch
    if continue_as and len(move.dispatch) == 1 and serves(drill.queue_of(drill.step_at(move.dispatch[0].position))):
        claimed = _claim_next(drill, move.dispatch[0], continue_as, events)
        to_send = [] if claimed else to_send
    if to_send:
        ids = [r.id for r in to_send]
        StepRun.objects.filter(pk__in=ids, status=StepRun.Status.PENDING, dispatched_at__isnull=True).update(
            dispatched_at=now)
        for run in to_send:
            send_step(drill, run.id, run.position)
    return claimed


def advance(drill_id: int, *, continue_as: str | None = None) -> Claimed | None:
    """Look at a drill and dispatch what can run now; end it when nothing is left. Safe to call
    any number of times from anywhere (people's actions, the sweep, a finished drill's check). With
    ``continue_as``, a single next step that worker may run is claimed for it and returned."""
    with transaction.atomic():
        status, now = lock_drill(drill_id)
        if status not in Drill.ACTIVE:
            return None
        runs = run_states(drill_id)
        drill = pinned_drill(drill_id, holding={run.position: run.step_id for run in runs})
        if drill is None:
            return None
        events: list[NewEvent] = []
        claimed = apply_move(drill, status, next_move(drill, runs), now, events, continue_as=continue_as)
        record_events(drill_id, events, at=now)
    return claimed


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
        # A dry-run changed nothing: its words must not say anything "succeeded".
        outcome = ("Every step's plan checked out or was skipped; nothing was changed." if drill.is_dry_run
                   else "Every step succeeded or was skipped.")
        closed = Drill.objects.filter(pk=drill_id, status__in=Drill.ACTIVE).update(
            status=Drill.Status.SUCCEEDED, finished_at=now, outcome=outcome)
        if not closed:
            return
        _store_measurements(drill_id, results)
        canary.stop(drill_id, "drill finished")
        record_event(drill_id, EventKind.DRILL_SUCCEEDED, f"{'Dry-run' if drill.is_dry_run else 'Drill'} finished: {outcome[0].lower()}{outcome[1:]}",
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

@dataclass(frozen=True)
class Claimed:
    """A step a worker holds: everything it needs to run it, with no further query."""

    step_run_id: int
    drill: PinnedDrill
    step: PinnedStep
    attempt: int
    phase: str  # run | poll
    token: str
    started_at: datetime
    poll_state: dict[str, Any]
    claimed_at: datetime  # the claim's reading of the measurement clock


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimed(row: ClaimedRow, token: str) -> Claimed | None:
    drill = pinned_drill(row.drill_id, holding={row.position: row.step_id})
    if drill is None:
        return None
    return Claimed(row.step_run_id, drill, drill.step_at(row.position), row.attempt, row.phase, token,
                   row.started_at, row.poll_state, row.claimed_at)


def _claim_next(drill: PinnedDrill, run: RunState, worker: str, events: list[NewEvent]) -> Claimed | None:
    token = uuid.uuid4().hex
    return _started_here(claim_next(run.id, token=token, worker=worker), token, worker, events)


def _started_here(row: ClaimedRow | None, token: str, worker: str, events: list[NewEvent]) -> Claimed | None:
    """A step this worker took in-process, with its "started" event for the same transaction."""
    claimed = _claimed(row, token) if row is not None else None
    if claimed is not None:
        events.append(NewEvent(EventKind.STEP_STARTED,
                               f"{claimed.step.label} started (attempt {claimed.attempt}) on {worker}.",
                               step_run_id=row.step_run_id))
    return claimed


def _alone_in_stage(drill: PinnedDrill, step: PinnedStep) -> bool:
    """A step that no neighbour shares a parallel group with."""
    if not step.group:
        return True
    neighbours = [drill.step_at(p) for p in (step.position - 1, step.position + 1) if 1 <= p <= len(drill.steps)]
    return all(n.group != step.group for n in neighbours)


def _following_here(drill: PinnedDrill, step: PinnedStep) -> PinnedStep | None:
    """The common case of a sequential drill: the step after a step alone in its stage, alone in its
    own, served by this worker (docs/performance.md). None for anything else (a parallel stage, the
    last step), which goes the long way."""
    if step.position >= len(drill.steps) or not _alone_in_stage(drill, step):
        return None
    following = drill.step_at(step.position + 1)
    if not _alone_in_stage(drill, following) or not serves(drill.queue_of(following)):
        return None
    return following


def _claim_following(drill: PinnedDrill, step: PinnedStep, worker: str, events: list[NewEvent]) -> Claimed | None:
    """The step after ``step`` decided in one statement, when ``_following_here`` allows; a step
    someone retried or skipped makes the statement take nothing, and the caller goes the long way."""
    following = _following_here(drill, step)
    if following is None:
        return None
    token = uuid.uuid4().hex
    return _started_here(claim_following(drill.id, following.position, token=token, worker=worker), token, worker,
                         events)


def claim(step_run_id: int, worker: str, drill_id: int | None = None, position: int | None = None) -> Claimed | Recheck | None:
    """A message takes its step for this worker, or says why not. A message that names the step's
    drill and position lets PostgreSQL do it in one round trip."""
    token = uuid.uuid4().hex
    if drill_id is not None and position is not None and one_round_trip():
        row, written = claim_for_message_in_one_round_trip(step_run_id, drill_id, position, token=token, worker=worker)
        _announce(written)
        if row is None:
            return _why_not(step_run_id)
        drill = pinned_drill(drill_id, holding={row.position: row.step_id})
        if drill is None:
            return None
        return Claimed(row.step_run_id, drill, drill.step_at(row.position), row.attempt, row.phase, token,
                       row.started_at, row.poll_state, row.claimed_at)
    with transaction.atomic():
        row = claim_for_message(step_run_id, token=token, worker=worker)
        if row is not None:
            claimed = _claimed(row, token)
            if claimed is None:
                return None
            if row.claimed_from == StepRun.Status.RUNNING:
                record_events(row.drill_id, [NewEvent(
                    EventKind.STEP_RECLAIMED, f"{claimed.step.label}: its worker was lost; attempt {claimed.attempt} "
                    f"on {worker} checks the real state and continues.", step_run_id=step_run_id)])
            elif row.phase == "run":
                record_events(row.drill_id, [NewEvent(
                    EventKind.STEP_STARTED, f"{claimed.step.label} started (attempt {claimed.attempt}) on {worker}.",
                    step_run_id=step_run_id)])
            return claimed
    return _why_not(step_run_id)


def _why_not(step_run_id: int) -> Recheck | None:
    """Nothing was claimed (the rare path): look again later if the step may yet need this message."""
    run = StepRun.objects.filter(pk=step_run_id).values("status", "dispatched_at", "lease_expires_at").first()
    if run is None:
        return None
    now = db_now()
    if run["status"] == StepRun.Status.PENDING and run["dispatched_at"] and run["dispatched_at"] > now:
        return Recheck(after_seconds=(run["dispatched_at"] - now).total_seconds() + 0.05)  # a retry's backoff
    if run["status"] == StepRun.Status.RUNNING and run["lease_expires_at"] and run["lease_expires_at"] > now:
        # Claimed by a live worker, or by one that just died: look again when the lease ends.
        return Recheck(after_seconds=(run["lease_expires_at"] - now).total_seconds() + 0.5)
    return None  # done, cancelled, not dispatched, or an early duplicate of a scheduled poll


def context_for(claimed: Claimed) -> StepContext:
    drill_id, position = claimed.drill.id, claimed.step.position

    def earlier() -> dict[str, Any]:
        keys = {s.position: s.key for s in claimed.drill.steps}
        return {keys[p]: evidence for p, evidence in StepRun.objects.filter(
            drill_id=drill_id, status=StepRun.Status.SUCCEEDED, position__lt=position).order_by("position")
            .values_list("position", "evidence")}

    return StepContext(
        drill_id=drill_id,
        step_key=claimed.step.key,
        attempt=claimed.attempt,
        targets=claimed.drill.targets,
        # Read only by the actions that need them (a restore, a cleanup): a no-op step costs no query.
        earlier=LazyMapping(earlier),
        state=claimed.poll_state,
        idempotency_key=f"drdrill-drill-{drill_id}-step-{claimed.step_run_id}",
        now=db_now,
        started_at=claimed.started_at,
        claimed_at=claimed.claimed_at,
        created_resources=LazySequence(lambda: resources.undeleted_of(drill_id)),
        policy=worker_policy(),
    )


def execute(step_run_id: int, drill_id: int | None = None, position: int | None = None) -> None:
    """What a ``run_step`` message does: claim the step, run it, record it — and, while its time
    budget lasts and the worker is not shutting down, go straight on into the next step it claimed
    while recording, with no broker hop."""
    worker = worker_name()
    claimed = claim(step_run_id, worker, drill_id, position)
    if isinstance(claimed, Recheck):
        drill = pinned_drill(drill_id) if drill_id is not None else None
        if drill is not None and position is not None and 1 <= position <= len(drill.steps):
            send_step(drill, step_run_id, position, countdown=claimed.after_seconds)  # on the step's own queue
        else:
            current_app.send_task("drills.tasks.run_step", args=[step_run_id], countdown=claimed.after_seconds)
        return
    budget_ends = monotonic() + settings.DRDRILL_CONTINUE_SECONDS
    while claimed is not None:
        with log_context(step_run_id=claimed.step_run_id):
            outcome = redact_outcome(perform(claimed), claimed.drill.targets)
            may_continue = monotonic() < budget_ends and not shutting_down()
            claimed = complete(claimed, outcome, continue_as=worker if may_continue else None)


def redact_outcome(outcome: Outcome | Failure, targets: dict[str, Any]) -> Outcome | Failure:
    """Whatever an action echoed back is stored without the secrets it may contain, and only then
    shortened: cutting first could leave a secret's first characters on the page."""
    secrets = secret_values(targets)
    if isinstance(outcome, Failure):
        return Failure(shorten(redact(outcome.message, secrets), ERROR_CHARS))
    if isinstance(outcome, (Done, PollAgain)):
        return dataclasses.replace(outcome, evidence=shorten(redact(outcome.evidence, secrets), EVIDENCE_TEXT_CHARS))
    return outcome


def perform(claimed: Claimed) -> Outcome | Failure:
    step = claimed.step
    try:
        action = get_action(step.action)
        params = parse_params(action.Params, step.params)
        ctx = context_for(claimed)
        # The trust boundary: nothing the worker's policy does not allow is touched, by a dry-run's
        # plan() as by run() and poll().
        ctx.allow(*accesses_of(action, params, ctx))
        if claimed.drill.is_dry_run:
            return Done(evidence={"dry_run": True, **action.plan(params, ctx)})
        if claimed.phase == "poll":
            return action.poll(params, ctx)
        return action.run(params, ctx)
    except (ActionFailed, ValueError) as error:
        return Failure(str(error))
    except Exception as error:  # an action's bug must fail its step, not wedge the drill
        log.exception("step run %s (%s) raised", claimed.step_run_id, step.action)
        return Failure(f"unexpected error in {step.action}: {type(error).__name__}: {error}")


def _succeeded(drill: PinnedDrill) -> str:
    # A dry-run changed nothing: its words must not say anything "succeeded".
    return "planned: its plan checked out, nothing was changed" if drill.is_dry_run else "succeeded"


def _announce(rows: list[NewRow]) -> None:
    for row in rows:
        announce(row.drill_id, row.event_id, row.kind, row.message, row.step_run_id)


class _LongWay:
    """What the one-round-trip completion returns when it did nothing and the long way must decide."""


LONG_WAY = _LongWay()


def _complete_in_one_round_trip(claimed: Claimed, outcome: Outcome | Failure,
                                continue_as: str | None) -> Claimed | None | _LongWay:
    """The two commonest results on PostgreSQL, each in one round trip (drills/claims.py): a step that
    asks to be polled again, and a step of a sequential drill that succeeded, with the step after it
    taken for this worker. Anything else, or anything these statements find they cannot do (a
    superseded claim, a drill that stopped, a step past its time limit), changes nothing and goes the
    long way."""
    drill, step = claimed.drill, claimed.step
    if isinstance(outcome, PollAgain) and not outcome.created:
        after = outcome.after_seconds if outcome.after_seconds >= IMMEDIATE_POLL_SECONDS else 0.0
        if not record_poll(drill_id=drill.id, step_run_id=claimed.step_run_id, token=claimed.token,
                           after_seconds=after, state=outcome.state, evidence=outcome.evidence or None,
                           timeout_seconds=step.timeout_seconds):
            return LONG_WAY
        send_step(drill, claimed.step_run_id, step.position, countdown=after)
        return None
    if not (isinstance(outcome, Done) and continue_as and not outcome.created and not outcome.deleted):
        return LONG_WAY
    if any(outcome.marks.get(mark) is None for mark in step.marks):
        return LONG_WAY  # a mark timed by the database's clock at the moment it is recorded
    following = _following_here(drill, step)
    if following is None:
        return LONG_WAY
    marks = {mark: outcome.marks[mark].isoformat() for mark in step.marks}
    token = uuid.uuid4().hex
    recorded = record_success_and_take_following(
        drill_id=drill.id, step_run_id=claimed.step_run_id, token=claimed.token, evidence=outcome.evidence,
        marks=marks, message=f"{step.label} {_succeeded(drill)}.", data={"marks": marks} if marks else None,
        following=following.position, following_label=following.label, following_token=token, worker=continue_as)
    if recorded is None:
        return LONG_WAY
    _announce(recorded.events)
    if recorded.following is not None:
        row = recorded.following
        return Claimed(row.step_run_id, drill, following, row.attempt, row.phase, token, row.started_at,
                       row.poll_state, row.claimed_at)
    # Recorded, but the step after it was not free to take (someone skipped or retried a step):
    # decide now, as the long way would have in the same transaction; the sweep would otherwise.
    return advance(drill.id, continue_as=continue_as)


def complete(claimed: Claimed, outcome: Outcome | Failure, *, continue_as: str | None = None) -> Claimed | None:
    """Record a step's result and decide what comes next, in one transaction with the drill row
    locked first: the result (only by the holder of the claim), the next step claimed for this
    worker (``continue_as``) or dispatched, and the timeline. Returns the step to run next here."""
    if one_round_trip():
        fast = _complete_in_one_round_trip(claimed, outcome, continue_as)
        if not isinstance(fast, _LongWay):
            return fast
    drill, step = claimed.drill, claimed.step
    with transaction.atomic():
        status, now = lock_drill(drill.id)
        if status is None:
            return None
        aborted = status == Drill.Status.ABORTED
        events: list[NewEvent] = []
        after_commit: list[tuple[float | None]] = []
        if isinstance(outcome, PollAgain) and not aborted:
            elapsed = (now - claimed.started_at).total_seconds()
            if elapsed > step.timeout_seconds:
                outcome = Failure(f"timed out after {elapsed:.0f} s (the step allows {step.timeout_seconds:.0f} s)")
        fields: dict[str, Any] = {"lease_expires_at": None}
        decide = False
        if isinstance(outcome, Done):
            marks = {mark: (outcome.marks.get(mark) or now).isoformat() for mark in step.marks}
            fields.update(status=StepRun.Status.SUCCEEDED, finished_at=now, evidence=outcome.evidence, marks=marks,
                          error="")
            events.append(NewEvent(EventKind.STEP_SUCCEEDED, f"{step.label} {_succeeded(drill)}.",
                                   step_run_id=claimed.step_run_id, data={"marks": marks} if marks else None))
            decide = True
        elif aborted and not isinstance(outcome, Failure):
            fields.update(status=StepRun.Status.CANCELLED, finished_at=now)
            events.append(NewEvent(EventKind.STEP_CANCELLED, f"{step.label} cancelled: the drill was aborted.",
                                   step_run_id=claimed.step_run_id))
        elif isinstance(outcome, PollAgain):
            # A poll asked for sooner than the broker's timers can keep (a countdown fires up to its
            # precision late, and costs the timer's own hop) is sent at once; the action sees it
            # early and asks again for the rest (as `wait` does).
            after = outcome.after_seconds if outcome.after_seconds >= IMMEDIATE_POLL_SECONDS else 0.0
            fields.update(status=StepRun.Status.POLLING, next_poll_at=now + timedelta(seconds=after),
                          poll_state=outcome.state)
            if outcome.evidence:
                fields["evidence"] = outcome.evidence
            after_commit.append((after,))
        elif isinstance(outcome, WaitForPerson):
            fields.update(status=StepRun.Status.WAITING, evidence={"instructions": outcome.instructions})
            Drill.objects.filter(pk=drill.id, status=Drill.Status.RUNNING).update(status=Drill.Status.WAITING)
            who = "an approver's decision" if step.is_approval_gate else "a participant"
            events.append(NewEvent(EventKind.STEP_WAITING, f"{step.label} waits for {who}: {outcome.instructions}",
                                   step_run_id=claimed.step_run_id))
        else:
            assert isinstance(outcome, Failure)
            fields["error"] = outcome.message
            if claimed.attempt <= step.retries and not aborted:
                delay = min(2 ** claimed.attempt, 30)
                fields.update(status=StepRun.Status.PENDING, poll_state={}, dispatched_at=now + timedelta(seconds=delay))
                events.append(NewEvent(EventKind.STEP_RETRYING, f"{step.label} attempt {claimed.attempt} failed: "
                                       f"{outcome.message}. Retrying in {delay} s.", step_run_id=claimed.step_run_id))
                after_commit.append((float(delay),))
            else:
                fields.update(status=StepRun.Status.FAILED, finished_at=now)
                events.append(NewEvent(EventKind.STEP_FAILED, f"{step.label} failed: {outcome.message}",
                                       step_run_id=claimed.step_run_id))
                decide = True
        recorded = StepRun.objects.filter(pk=claimed.step_run_id, claim_token=claimed.token,
                                          status=StepRun.Status.RUNNING).update(**fields)
        if not recorded:
            log.warning("step run %s: result of a superseded claim dropped", claimed.step_run_id)
            transaction.set_rollback(True)
            return None
        if isinstance(outcome, (Done, PollAgain)) and outcome.created:
            resources.record_created(claimed.step_run_id, drill.id, outcome.created, now)
        if isinstance(outcome, Done) and outcome.deleted:
            resources.record_deleted(drill.id, outcome.deleted, now, by=step.label.lower())
        for (countdown,) in after_commit:
            send_step(drill, claimed.step_run_id, step.position, countdown=countdown)
        nxt = None
        if continue_as and isinstance(outcome, Done) and status == Drill.Status.RUNNING:
            nxt = _claim_following(drill, step, continue_as, events)
        if nxt is None and decide and not aborted and status in Drill.ACTIVE:
            nxt = apply_move(drill, status, next_move(drill, run_states(drill.id)), now, events, continue_as=continue_as)
        record_events(drill.id, events, at=now)
    return nxt


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
    ).values_list("pk", "drill_id", "position")
    for step_run_id, drill_id, position in overdue:
        drill = pinned_drill(drill_id)
        if drill is not None:
            current_app.send_task("drills.tasks.run_step", args=[step_run_id, drill_id, position],
                                  queue=drill.queue_of(drill.step_at(position)))
            sent += 1
    for drill_id in Drill.objects.filter(status__in=Drill.ACTIVE).values_list("pk", flat=True):
        advance(drill_id)
    sent += canary.resend_stalled(now, stale)
    sent += resources.send_expired_for_cleanup(now)
    return sent
