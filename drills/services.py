"""Use cases of running drills, shared by the UI, the CLI and the tasks: starting a drill, and what
people do to a running one (confirm, approve, reject, retry, skip, abort). Each checks that the
person may do it, changes the drill in one transaction with its timeline event, writes the audit
trail in that same transaction, and leaves moving the drill on to the engine."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.roles import Capability, check
from audit.services import record
from runbooks.actions import ActionFailed, get_action
from runbooks.models import Environment, RunbookVersion

from . import canary, engine, snapshot, tabletop
from .clock import db_now
from .models import Approval, CanaryRun, Drill, EventKind, Measurement, StepRun
from .pins import lease_seconds
from .signals import drill_ended
from .timeline import record_event, send, step_label


class DrillActionRefused(Exception):
    """A person asked for something the drill's state does not allow; the message says why."""


# --- starting -------------------------------------------------------------------------------------

def needs_start_approval(*, environment: str, mode: str) -> bool:
    """A live drill on production needs a second person's approval before it starts. ``environment``
    is the one pinned in the drill's snapshot: re-classifying the system later changes nothing."""
    return mode == Drill.Mode.LIVE and environment == Environment.PRODUCTION


def drill_start(*, runbook_version: RunbookVersion, user: Any, mode: str = Drill.Mode.LIVE,
                confirmation: str | None = None) -> Drill:
    """Create the drill pinned to ``runbook_version`` with one step run per step. It starts at
    once, or, for a live drill on production, waits for an approver (see approve_start)."""
    if mode == Drill.Mode.TABLETOP:  # walked by people, never executed: drills/tabletop.py
        return tabletop.start_tabletop(runbook_version=runbook_version, user=user)
    check(user, Capability.COORDINATE, "start drills")
    if mode not in Drill.Mode.values:
        raise DrillActionRefused(f"unknown mode {mode!r}; use live or dry_run")
    runbook = runbook_version.runbook
    system = runbook.system
    pinned = snapshot.take(runbook_version)
    gated = needs_start_approval(environment=pinned["environment"], mode=mode)
    if gated and (confirmation or "").strip() not in {system.name, system.slug}:
        raise DrillActionRefused(f"{system.name} is a production system: type its name “{system.name}” to confirm "
                                 "a live drill against it.")
    with transaction.atomic():
        now = db_now()
        drill = Drill.objects.create(runbook_version=runbook_version, system=system, kind=runbook.kind, mode=mode,
                                     status=Drill.Status.DRAFT, started_by=user, snapshot=pinned,
                                     snapshot_digest=snapshot.digest(pinned))
        StepRun.objects.bulk_create(
            StepRun(drill=drill, step=step, position=step.position, lease_seconds=lease_seconds(step))
            for step in runbook_version.steps.order_by("position")
        )
        mode_label = "dry-run" if mode == Drill.Mode.DRY_RUN else "live drill"
        details = {"runbook": runbook.slug, "version": runbook_version.number, "mode": mode}
        if gated:
            record_event(drill.pk, EventKind.DRILL_APPROVAL_REQUESTED,
                         f"Live drill of {runbook.title} v{runbook_version.number} on production requested by {user}; "
                         "it starts when an approver other than the requester approves it.", actor=user, at=now, data=details)
            record("drill.start_requested", actor=user, obj=drill, drill_id=drill.pk, after=details,
                   summary=f"asked to start a live drill of {runbook.slug} v{runbook_version.number} on production")
        else:
            record("drill.started", actor=user, obj=drill, drill_id=drill.pk, after=details,
                   summary=f"started a {mode_label} of {runbook.slug} v{runbook_version.number}")
            _launch(drill, started_by=user)
    drill.refresh_from_db()
    return drill


def _launch(drill: Drill, *, started_by: Any, approved_by: Any = None) -> None:
    now = db_now()
    launched = Drill.objects.filter(pk=drill.pk, status=Drill.Status.DRAFT).update(status=Drill.Status.RUNNING, started_at=now)
    if not launched:
        raise DrillActionRefused("This drill has already started or ended.")
    version = drill.runbook_version
    approval = f", approved by {approved_by}" if approved_by else ""
    record_event(drill.pk, EventKind.DRILL_STARTED, f"{'Dry-run' if drill.is_dry_run else 'Live drill'} of "
                 f"{version.runbook.title} v{version.number} started by {started_by}{approval}.",
                 actor=approved_by or started_by, at=now,
                 data={"runbook": version.runbook.slug, "version": version.number, "mode": drill.mode})
    canary_spec = version.canary
    if canary_spec and not drill.is_dry_run:
        # The canary checks it can write (in a worker, under its policy) and then starts the steps.
        CanaryRun.objects.create(drill=drill, target=canary_spec["target"], interval_seconds=canary_spec["interval"],
                                 status=CanaryRun.Status.CHECKING)
        send("drills.tasks.canary_tick", drill.pk)
    else:
        # The first steps are dispatched here, in the transaction that starts the drill: their
        # messages leave when it commits, with no message of its own to ask a worker to do it.
        engine.advance(drill.pk)


# --- the start of a production drill: four eyes ------------------------------------------------------

def approve_start(*, drill: Drill, user: Any, comment: str) -> None:
    check(user, Capability.APPROVE, "approve drills")
    _require_comment(comment)
    _check_not_starter(drill, user)
    with transaction.atomic():
        drill = Drill.objects.select_for_update().get(pk=drill.pk)
        if drill.status != Drill.Status.DRAFT:
            raise DrillActionRefused("This drill is not waiting for approval to start any more.")
        now = db_now()
        Approval.objects.create(drill=drill, gate=Approval.Gate.START, decision=Approval.Decision.APPROVED,
                                decided_by=user, decided_at=now, comment=comment, snapshot_digest=drill.snapshot_digest)
        record_event(drill.pk, EventKind.DRILL_APPROVED, f"Start approved by {user}: {comment}", actor=user, at=now)
        record("approval.approved", actor=user, obj=drill, drill_id=drill.pk, summary=f"approved the start: {comment}",
               before={"status": Drill.Status.DRAFT}, after={"status": Drill.Status.RUNNING})
        _launch(drill, started_by=drill.started_by, approved_by=user)


def reject_start(*, drill: Drill, user: Any, comment: str) -> None:
    check(user, Capability.APPROVE, "reject drills")
    _require_comment(comment)
    _check_not_starter(drill, user)
    with transaction.atomic():
        drill = Drill.objects.select_for_update().get(pk=drill.pk)
        if drill.status != Drill.Status.DRAFT:
            raise DrillActionRefused("This drill is not waiting for approval to start any more.")
        now = db_now()
        Approval.objects.create(drill=drill, gate=Approval.Gate.START, decision=Approval.Decision.REJECTED,
                                decided_by=user, decided_at=now, comment=comment, snapshot_digest=drill.snapshot_digest)
        Drill.objects.filter(pk=drill.pk).update(status=Drill.Status.FAILED, finished_at=now,
                                                 outcome=f"Start rejected by {user}: {comment}")
        StepRun.objects.filter(drill=drill).update(status=StepRun.Status.CANCELLED, finished_at=now)
        record_event(drill.pk, EventKind.DRILL_REJECTED, f"Start rejected by {user}: {comment}. Nothing was run.",
                     actor=user, at=now)
        record("approval.rejected", actor=user, obj=drill, drill_id=drill.pk, summary=f"rejected the start: {comment}",
               before={"status": Drill.Status.DRAFT}, after={"status": Drill.Status.FAILED})


# --- steps that wait for a person --------------------------------------------------------------------

def _decide_waiting_step(step_run: StepRun, *, user: Any, succeeded: bool, note: str, event: EventKind,
                         message: str, refused: str) -> None:
    """The one way a step that waits for a person ends: its wait is ended by a conditional update
    (two people clicking at once: one wins, the other is told), its marks are set on the
    measurement clock, the drill goes back to running, and the engine is nudged. Runs inside the
    caller's transaction."""
    now = db_now()
    if succeeded:
        marks = {mark: now.isoformat() for mark in step_run.step.marks}
        changes: dict[str, Any] = {"status": StepRun.Status.SUCCEEDED, "marks": marks}
    else:
        marks = {}
        changes = {"status": StepRun.Status.FAILED, "error": f"Rejected by {user}: {note}"}
    decided = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.WAITING,
                                     drill__status__in=Drill.ACTIVE).update(finished_at=now, acted_by=user, note=note,
                                                                             **changes)
    if not decided:
        if not Drill.objects.filter(pk=step_run.drill_id, status__in=Drill.ACTIVE).exists():
            raise DrillActionRefused("The drill is not running any more.")
        raise DrillActionRefused(refused)
    if succeeded:
        Drill.objects.filter(pk=step_run.drill_id, status=Drill.Status.WAITING).update(status=Drill.Status.RUNNING)
    record_event(step_run.drill_id, event, message, step_run=step_run, actor=user, at=now,
                 data={"marks": marks} if marks else None)
    transaction.on_commit(lambda: engine.advance(step_run.drill_id))


def confirm_step(*, step_run: StepRun, user: Any, note: str = "") -> None:
    check(user, Capability.PARTICIPATE, "confirm steps")
    if _is_gate(step_run):
        raise DrillActionRefused("This is an approval gate: an approver approves or rejects it.")
    with transaction.atomic():
        _decide_waiting_step(step_run, user=user, succeeded=True, note=note, event=EventKind.STEP_CONFIRMED,
                             message=f"{step_label(step_run)} confirmed by {user}." + (f" Note: {note}" if note else ""),
                             refused="This step is not waiting for a confirmation any more.")
        record("step.confirmed", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"confirmed step {step_run.position} “{step_run.step.name}”" + (f": {note}" if note else ""))


def approve_step(*, step_run: StepRun, user: Any, comment: str) -> None:
    check(user, Capability.APPROVE, "approve gates")
    _require_comment(comment)
    _require_gate(step_run)
    _check_not_starter(step_run.drill, user)
    label = step_label(step_run)
    with transaction.atomic():
        _decide_waiting_step(step_run, user=user, succeeded=True, note=comment, event=EventKind.STEP_APPROVED,
                             message=f"{label} approved by {user}: {comment}",
                             refused="This gate is not waiting for a decision any more.")
        Approval.objects.create(drill_id=step_run.drill_id, step_run=step_run, gate=Approval.Gate.STEP,
                                decision=Approval.Decision.APPROVED, decided_by=user, decided_at=db_now(), comment=comment,
                                snapshot_digest=step_run.drill.snapshot_digest)
        record("approval.approved", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"approved {label}: {comment}")


def reject_step(*, step_run: StepRun, user: Any, comment: str) -> None:
    """A rejected gate fails the drill: nothing after it runs."""
    check(user, Capability.APPROVE, "reject gates")
    _require_comment(comment)
    _require_gate(step_run)
    _check_not_starter(step_run.drill, user)
    label = step_label(step_run)
    with transaction.atomic():
        _decide_waiting_step(step_run, user=user, succeeded=False, note=comment, event=EventKind.STEP_REJECTED,
                             message=f"{label} rejected by {user}: {comment}",
                             refused="This gate is not waiting for a decision any more.")
        Approval.objects.create(drill_id=step_run.drill_id, step_run=step_run, gate=Approval.Gate.STEP,
                                decision=Approval.Decision.REJECTED, decided_by=user, decided_at=db_now(), comment=comment,
                                snapshot_digest=step_run.drill.snapshot_digest)
        StepRun.objects.filter(drill_id=step_run.drill_id, status=StepRun.Status.PENDING).update(
            status=StepRun.Status.CANCELLED, finished_at=db_now())
        record("approval.rejected", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"rejected {label}: {comment}")


def _is_gate(step_run: StepRun) -> bool:
    try:
        return get_action(step_run.step.action).is_approval_gate
    except ActionFailed:
        return False


def _require_gate(step_run: StepRun) -> None:
    if not _is_gate(step_run):
        raise DrillActionRefused("This step is not an approval gate.")


def _require_comment(comment: str) -> None:
    if not comment.strip():
        raise DrillActionRefused("Write a comment: an approval or rejection is recorded with its reason.")


def _check_not_starter(drill: Drill, user: Any) -> None:
    if drill.started_by_id is not None and drill.started_by_id == user.pk:
        raise DrillActionRefused("You started this drill: another approver must decide this gate (four eyes).")


# --- stopping and resuming ------------------------------------------------------------------------

def abort_drill(*, drill: Drill, user: Any, reason: str) -> None:
    check(user, Capability.COORDINATE, "abort drills")
    if not reason.strip():
        raise DrillActionRefused("Say why the drill is aborted: the reason goes into its record.")
    with transaction.atomic():
        before = Drill.objects.values_list("status", flat=True).get(pk=drill.pk)
        now = db_now()
        # A draft (a production drill awaiting approval) can be withdrawn the same way, and a tabletop
        # being walked stopped.
        aborted = Drill.objects.filter(pk=drill.pk, status__in=(Drill.Status.DRAFT, *Drill.IN_PROGRESS, Drill.Status.FAILED)).update(
            status=Drill.Status.ABORTED, finished_at=now, outcome=f"Aborted by {user}: {reason}")
        if not aborted:
            raise DrillActionRefused("Only a drill awaiting approval, running, waiting or failed can be aborted.")
        # A step a worker holds right now finishes its call and is recorded; the rest stop here.
        StepRun.objects.filter(drill=drill, status__in=(StepRun.Status.PENDING, StepRun.Status.POLLING,
                                                        StepRun.Status.WAITING)).update(
            status=StepRun.Status.CANCELLED, finished_at=now)
        canary.stop(drill.pk, "drill aborted")
        noun = "Tabletop" if drill.is_tabletop else "Drill"
        record_event(drill.pk, EventKind.DRILL_ABORTED, f"{noun} aborted by {user}: {reason}", actor=user, at=now)
        # A tabletop's outage is on paper: nothing is down, so there is nothing to warn of.
        if not drill.is_tabletop and canary.outage_left_open(drill.pk):
            # Abort stops the drill, not the outage it caused: say so where nobody can miss it.
            warning = (f"The outage this drill started was not recovered: {drill.system} may still be down. "
                       "Recover it by hand or with its recovery runbook.")
            Drill.objects.filter(pk=drill.pk).update(outcome=f"Aborted by {user}: {reason}. {warning}")
            record_event(drill.pk, EventKind.DRILL_OUTAGE_LEFT_OPEN, warning, actor=user, at=now)
        transaction.on_commit(lambda: drill_ended.send(sender=Drill, drill_id=drill.pk))
        record("drill.aborted", actor=user, obj=drill, drill_id=drill.pk, summary=f"aborted the {noun.lower()}: {reason}",
               before={"status": before}, after={"status": Drill.Status.ABORTED})


def retry_step(*, step_run: StepRun, user: Any) -> None:
    check(user, Capability.COORDINATE, "retry steps")
    with transaction.atomic():
        _resume_at(step_run, user, skip_reason=None)
        record("step.retried", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"retried step {step_run.position} “{step_run.step.name}”")


def skip_step(*, step_run: StepRun, user: Any, reason: str) -> None:
    check(user, Capability.COORDINATE, "skip steps")
    if not reason.strip():
        raise DrillActionRefused("Say why the step is skipped: the reason goes into the drill's record.")
    with transaction.atomic():
        _resume_at(step_run, user, skip_reason=reason)
        record("step.skipped", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"skipped step {step_run.position} “{step_run.step.name}”: {reason}")


def _resume_at(step_run: StepRun, user: Any, *, skip_reason: str | None) -> None:
    drill = Drill.objects.select_for_update().get(pk=step_run.drill_id)
    step_run = StepRun.objects.select_related("step").get(pk=step_run.pk)
    label = step_label(step_run)
    if _is_gate(step_run):
        # A rejection is a decision, not a failure to retry: it ends the drill for good.
        raise DrillActionRefused("An approval gate cannot be skipped or retried: its rejection ends the drill; "
                                 "start a new drill to ask again." if step_run.status == StepRun.Status.FAILED else
                                 "An approval gate cannot be skipped: an approver must approve it.")
    waiting_skip = skip_reason is not None and step_run.status == StepRun.Status.WAITING and drill.is_active
    if not waiting_skip and (drill.status != Drill.Status.FAILED or step_run.status != StepRun.Status.FAILED):
        raise DrillActionRefused("Only a failed step of a failed drill can be retried or skipped.")
    now = db_now()
    fresh_start = {"status": StepRun.Status.PENDING, "dispatched_at": None, "started_at": None, "finished_at": None,
                   "error": "", "poll_state": {}, "phase": "run"}
    if skip_reason is not None:
        StepRun.objects.filter(pk=step_run.pk).update(status=StepRun.Status.SKIPPED, finished_at=now,
                                                      note=skip_reason, acted_by=user)
        record_event(drill.pk, EventKind.STEP_SKIPPED, f"{label} skipped by {user}: {skip_reason}",
                     step_run=step_run, actor=user, at=now)
    else:
        # A fresh start: the step's time limit counts from the retry, not from the failed attempt.
        StepRun.objects.filter(pk=step_run.pk).update(**fresh_start)
        record_event(drill.pk, EventKind.STEP_RETRY, f"{label} retried by {user}.", step_run=step_run, actor=user, at=now)
        # Other steps of the same stage that failed alongside it are retried with it.
        if step_run.step.group:
            StepRun.objects.filter(drill=drill, status=StepRun.Status.FAILED,
                                   step__group=step_run.step.group).update(**fresh_start)
    if drill.status == Drill.Status.FAILED:
        Measurement.objects.filter(drill=drill).delete()
        drill.status = Drill.Status.RUNNING
        drill.finished_at = None
        drill.outcome = ""
        drill.save(update_fields=["status", "finished_at", "outcome"])
        canary.resume(drill.pk)
    transaction.on_commit(lambda: engine.advance(drill.pk))
