"""Use cases of running drills, shared by the UI, the CLI and the tasks. Each checks that the
person may do it, does it through the engine, and writes the audit trail in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.roles import Capability, check
from audit.services import record
from runbooks.actions import ActionFailed, canary_writer
from runbooks.models import Environment, RunbookVersion

from . import engine
from .clock import db_now
from .engine import DrillActionRefused, record_event, send  # noqa: F401  (re-exported for views and commands)
from .models import Approval, CanaryRun, Drill, StepRun


def needs_start_approval(*, runbook_version: RunbookVersion, mode: str) -> bool:
    """A live drill on production needs a second person's approval before it starts."""
    return mode == Drill.Mode.LIVE and runbook_version.runbook.system.environment == Environment.PRODUCTION


def drill_start(*, runbook_version: RunbookVersion, user: Any, mode: str = Drill.Mode.LIVE,
                confirmation: str | None = None) -> Drill:
    """Create the drill pinned to ``runbook_version`` with one step run per step. It starts at
    once, or, for a live drill on production, waits for an approver (see approve_start)."""
    check(user, Capability.COORDINATE, "start drills")
    if mode not in Drill.Mode.values:
        raise DrillActionRefused(f"unknown mode {mode!r}; use live or dry_run")
    runbook = runbook_version.runbook
    system = runbook.system
    gated = needs_start_approval(runbook_version=runbook_version, mode=mode)
    if gated and (confirmation or "").strip() not in {system.name, system.slug}:
        raise DrillActionRefused(f"{system.name} is a production system: type its name “{system.name}” to confirm "
                                 "a live drill against it.")
    _check_canary(runbook_version, mode)
    with transaction.atomic():
        now = db_now()
        drill = Drill.objects.create(runbook_version=runbook_version, system=system, kind=runbook.kind, mode=mode,
                                     status=Drill.Status.DRAFT, started_by=user)
        StepRun.objects.bulk_create(
            StepRun(drill=drill, step=step, position=step.position) for step in runbook_version.steps.order_by("position")
        )
        mode_label = "dry-run" if mode == Drill.Mode.DRY_RUN else "live drill"
        details = {"runbook": runbook.slug, "version": runbook_version.number, "mode": mode}
        if gated:
            record_event(drill.pk, "drill.approval_requested",
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


def _check_canary(runbook_version: RunbookVersion, mode: str) -> None:
    canary_spec = runbook_version.canary
    if canary_spec and mode == Drill.Mode.LIVE:
        try:
            canary_writer(runbook_version.runbook.system.targets.get(canary_spec["target"], {})).check()
        except ActionFailed as error:
            raise DrillActionRefused(f"The canary cannot write to target {canary_spec['target']!r}: {error}") from None


def _launch(drill: Drill, *, started_by: Any, approved_by: Any = None) -> None:
    now = db_now()
    launched = Drill.objects.filter(pk=drill.pk, status=Drill.Status.DRAFT).update(status=Drill.Status.RUNNING, started_at=now)
    if not launched:
        raise DrillActionRefused("This drill has already started or ended.")
    version = drill.runbook_version
    approval = f", approved by {approved_by}" if approved_by else ""
    record_event(drill.pk, "drill.started", f"{'Dry-run' if drill.is_dry_run else 'Live drill'} of "
                 f"{version.runbook.title} v{version.number} started by {started_by}{approval}.",
                 actor=approved_by or started_by, at=now,
                 data={"runbook": version.runbook.slug, "version": version.number, "mode": drill.mode})
    canary_spec = version.canary
    if canary_spec and not drill.is_dry_run:
        CanaryRun.objects.create(drill=drill, target=canary_spec["target"], interval_seconds=canary_spec["interval"])
        send("drills.tasks.canary_tick", drill.pk)
    send("drills.tasks.advance_drill", drill.pk)


def _check_not_starter(drill: Drill, user: Any) -> None:
    if drill.started_by_id is not None and drill.started_by_id == user.pk:
        raise DrillActionRefused("You started this drill: another approver must decide this gate (four eyes).")


def approve_start(*, drill: Drill, user: Any, comment: str) -> None:
    check(user, Capability.APPROVE, "approve drills")
    _require_comment(comment)
    _check_not_starter(drill, user)
    _check_canary(drill.runbook_version, drill.mode)
    with transaction.atomic():
        drill = Drill.objects.select_for_update().get(pk=drill.pk)
        if drill.status != Drill.Status.DRAFT:
            raise DrillActionRefused("This drill is not waiting for approval to start any more.")
        now = db_now()
        Approval.objects.create(drill=drill, gate=Approval.Gate.START, decision=Approval.Decision.APPROVED,
                                decided_by=user, decided_at=now, comment=comment)
        record_event(drill.pk, "drill.approved", f"Start approved by {user}: {comment}", actor=user, at=now)
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
                                decided_by=user, decided_at=now, comment=comment)
        Drill.objects.filter(pk=drill.pk).update(status=Drill.Status.FAILED, finished_at=now,
                                                 outcome=f"Start rejected by {user}: {comment}")
        StepRun.objects.filter(drill=drill).update(status=StepRun.Status.CANCELLED, finished_at=now)
        record_event(drill.pk, "drill.rejected", f"Start rejected by {user}: {comment}. Nothing was run.", actor=user, at=now)
        record("approval.rejected", actor=user, obj=drill, drill_id=drill.pk, summary=f"rejected the start: {comment}",
               before={"status": Drill.Status.DRAFT}, after={"status": Drill.Status.FAILED})


def approve_step(*, step_run: StepRun, user: Any, comment: str) -> None:
    check(user, Capability.APPROVE, "approve gates")
    _require_comment(comment)
    _require_gate(step_run)
    _check_not_starter(step_run.drill, user)
    with transaction.atomic():
        now = db_now()
        marks = {mark: now.isoformat() for mark in step_run.step.marks}
        decided = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.WAITING,
                                         drill__status__in=Drill.ACTIVE).update(
            status=StepRun.Status.SUCCEEDED, finished_at=now, acted_by=user, note=comment, marks=marks)
        if not decided:
            raise DrillActionRefused("This gate is not waiting for a decision any more.")
        Approval.objects.create(drill_id=step_run.drill_id, step_run=step_run, gate=Approval.Gate.STEP,
                                decision=Approval.Decision.APPROVED, decided_by=user, decided_at=now, comment=comment)
        Drill.objects.filter(pk=step_run.drill_id, status=Drill.Status.WAITING).update(status=Drill.Status.RUNNING)
        label = f"Step {step_run.position} “{step_run.step.name}”"
        record_event(step_run.drill_id, "step.approved", f"{label} approved by {user}: {comment}", step_run=step_run,
                     actor=user, at=now)
        record("approval.approved", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"approved {label}: {comment}")
        transaction.on_commit(lambda: engine.advance(step_run.drill_id))


def reject_step(*, step_run: StepRun, user: Any, comment: str) -> None:
    """A rejected gate fails the drill: nothing after it runs."""
    check(user, Capability.APPROVE, "reject gates")
    _require_comment(comment)
    _require_gate(step_run)
    _check_not_starter(step_run.drill, user)
    with transaction.atomic():
        now = db_now()
        label = f"Step {step_run.position} “{step_run.step.name}”"
        decided = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.WAITING,
                                         drill__status__in=Drill.ACTIVE).update(
            status=StepRun.Status.FAILED, finished_at=now, acted_by=user, note=comment,
            error=f"Rejected by {user}: {comment}")
        if not decided:
            raise DrillActionRefused("This gate is not waiting for a decision any more.")
        Approval.objects.create(drill_id=step_run.drill_id, step_run=step_run, gate=Approval.Gate.STEP,
                                decision=Approval.Decision.REJECTED, decided_by=user, decided_at=now, comment=comment)
        StepRun.objects.filter(drill_id=step_run.drill_id, status=StepRun.Status.PENDING).update(
            status=StepRun.Status.CANCELLED, finished_at=now)
        record_event(step_run.drill_id, "step.rejected", f"{label} rejected by {user}: {comment}", step_run=step_run,
                     actor=user, at=now)
        record("approval.rejected", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"rejected {label}: {comment}")
        transaction.on_commit(lambda: engine.advance(step_run.drill_id))


def _require_comment(comment: str) -> None:
    if not comment.strip():
        raise DrillActionRefused("Write a comment: an approval or rejection is recorded with its reason.")


def _require_gate(step_run: StepRun) -> None:
    if step_run.step.action != engine.APPROVAL_ACTION:
        raise DrillActionRefused("This step is not an approval gate.")


def confirm_step(*, step_run: StepRun, user: Any, note: str = "") -> None:
    check(user, Capability.PARTICIPATE, "confirm steps")
    with transaction.atomic():
        engine.confirm_step(step_run=step_run, user=user, note=note)
        record("step.confirmed", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"confirmed step {step_run.position} “{step_run.step.name}”" + (f": {note}" if note else ""))


def abort_drill(*, drill: Drill, user: Any, reason: str) -> None:
    check(user, Capability.COORDINATE, "abort drills")
    with transaction.atomic():
        before = Drill.objects.values_list("status", flat=True).get(pk=drill.pk)
        engine.abort_drill(drill=drill, user=user, reason=reason)
        record("drill.aborted", actor=user, obj=drill, drill_id=drill.pk, summary=f"aborted the drill: {reason}",
               before={"status": before}, after={"status": Drill.Status.ABORTED})


def retry_step(*, step_run: StepRun, user: Any) -> None:
    check(user, Capability.COORDINATE, "retry steps")
    with transaction.atomic():
        engine.retry_step(step_run=step_run, user=user)
        record("step.retried", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"retried step {step_run.position} “{step_run.step.name}”")


def skip_step(*, step_run: StepRun, user: Any, reason: str) -> None:
    check(user, Capability.COORDINATE, "skip steps")
    with transaction.atomic():
        engine.skip_step(step_run=step_run, user=user, reason=reason)
        record("step.skipped", actor=user, obj=step_run, drill_id=step_run.drill_id,
               summary=f"skipped step {step_run.position} “{step_run.step.name}”: {reason}")
