"""Planned drills: planning one for a time, approving it in advance, cancelling it, and what beat
does when its time comes (docs/programme.md#planned-drills).

At its time a planned drill is started through drills.services.drill_start as the person who planned
it, under the same rules as a start from the runbook page. A live drill on production is started
only if an approver other than the planner approved the plan in advance; beat then applies that
approval through drills.services.approve_start (so the approver's role and the four-eyes rule are
checked again at that moment). A tabletop is not started by a machine: its people are reminded."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.roles import Capability, check
from audit.services import record
from drills.models import Drill
from drills.services import DrillActionRefused, approve_start, drill_start
from runbooks.models import Runbook

from .models import PlannedDrill
from .notifications import planned_drill_message


class PlanRefused(Exception):
    """The plan cannot be made or changed; the message says why."""


def plan_drill(*, runbook: Runbook, scheduled_at: datetime, user: Any, mode: str = Drill.Mode.LIVE,
               confirmation: str = "", note: str = "", sample: bool = False) -> PlannedDrill:
    check(user, Capability.COORDINATE, "plan drills")
    version = runbook.latest_version
    if version is None:
        raise PlanRefused(f"{runbook.title} has no version yet: import one before planning a drill of it.")
    if mode not in (Drill.Mode.LIVE, Drill.Mode.DRY_RUN):
        raise PlanRefused(f"Unknown mode {mode!r}: plan a live drill or a dry-run.")
    if not sample and scheduled_at <= timezone.now():
        raise PlanRefused("That time has passed: plan the drill for a time in the future.")
    system = runbook.system
    planned = PlannedDrill(runbook_version=version, system=system, kind=runbook.kind, mode=mode,
                           scheduled_at=scheduled_at, planned_by=user, note=note, sample=sample)
    if planned.needs_pre_approval and confirmation.strip() not in {system.name, system.slug}:
        raise PlanRefused(f"{system.name} is a production system: type its name “{system.name}” to confirm a planned "
                          "live drill against it.")
    with transaction.atomic():
        planned.save()
        record("drill.planned", actor=user, obj=planned, after={"runbook": runbook.slug, "version": version.number,
                                                                "mode": mode, "at": scheduled_at.isoformat()},
               summary=f"planned a {mode.replace('_', '-')} of {runbook.slug} v{version.number} for "
                       f"{timezone.localtime(scheduled_at):%Y-%m-%d %H:%M}")
    return planned


def approve_planned_drill(*, planned: PlannedDrill, user: Any, comment: str) -> None:
    check(user, Capability.APPROVE, "approve drills")
    if not comment.strip():
        raise PlanRefused("Write a comment: an approval is recorded with its reason.")
    if not planned.needs_pre_approval:
        raise PlanRefused("This planned drill needs no approval: only live drills on production do.")
    if planned.planned_by_id == user.pk:
        raise PlanRefused("You planned this drill: another approver must approve it (four eyes).")
    with transaction.atomic():
        approved = PlannedDrill.objects.filter(pk=planned.pk, status=PlannedDrill.Status.PLANNED,
                                               approved_by__isnull=True).update(
            approved_by=user, approved_at=timezone.now(), approval_comment=comment.strip())
        if not approved:
            raise PlanRefused("This planned drill is already approved, or no longer waits for its time.")
        record("planned_drill.approved", actor=user, obj=planned, summary=f"approved the planned drill in advance: {comment}")


def cancel_planned_drill(*, planned: PlannedDrill, user: Any, reason: str) -> None:
    check(user, Capability.COORDINATE, "cancel planned drills")
    if not reason.strip():
        raise PlanRefused("Say why the planned drill is cancelled: the reason is kept with it.")
    with transaction.atomic():
        cancelled = PlannedDrill.objects.filter(pk=planned.pk, status=PlannedDrill.Status.PLANNED).update(
            status=PlannedDrill.Status.CANCELLED, outcome=f"Cancelled by {user}: {reason.strip()}")
        if not cancelled:
            raise PlanRefused("Only a planned drill whose time has not come can be cancelled.")
        record("planned_drill.cancelled", actor=user, obj=planned, summary=f"cancelled the planned drill: {reason}")


def start_due_planned_drills(now: datetime) -> list[int]:
    """Beat: act on every planned drill whose time has come. Returns the planned drills acted on."""
    acted = []
    for planned in (PlannedDrill.objects.filter(status=PlannedDrill.Status.PLANNED, scheduled_at__lte=now)
                    .select_related("system", "runbook_version__runbook", "planned_by", "approved_by")):
        # The claim: of two beat ticks (or two beats, by mistake) one moves it on.
        if PlannedDrill.objects.filter(pk=planned.pk, status=PlannedDrill.Status.PLANNED).update(
                status=PlannedDrill.Status.STARTING):
            _act(planned, now)
            acted.append(planned.pk)
    return acted


def _act(planned: PlannedDrill, now: datetime) -> None:
    title = planned.runbook_version.runbook.title
    when = timezone.localtime(planned.scheduled_at).strftime("%Y-%m-%d %H:%M")
    if now - planned.scheduled_at > timedelta(minutes=settings.DRDRILL_PLANNED_DRILL_GRACE_MINUTES):
        _conclude(planned, PlannedDrill.Status.MISSED,
                  f"Not started: its time ({when}) passed while beat was not running, and a drill is never started "
                  "at a moment nobody expects. Plan it again.")
        return
    if planned.is_tabletop:
        _conclude(planned, PlannedDrill.Status.REMINDED, f"Reminder sent: the tabletop exercise {title} is planned for "
                  f"{when}. Tabletops are started by their coordinator, not by beat.")
        return
    if planned.needs_pre_approval and planned.approved_by_id is None:
        _conclude(planned, PlannedDrill.Status.NOT_STARTED,
                  f"Not started: a live drill on production starts at its planned time only if an approver approved "
                  f"it in advance, and nobody had approved {title} for {when}.")
        return
    try:
        drill = drill_start(runbook_version=planned.runbook_version, user=planned.planned_by, mode=planned.mode,
                            confirmation=planned.system.name)
    except (DrillActionRefused, PermissionDenied) as refusal:
        _conclude(planned, PlannedDrill.Status.NOT_STARTED, f"Not started: {refusal}")
        return
    status, outcome = PlannedDrill.Status.STARTED, f"Started at its planned time as drill #{drill.pk}."
    if drill.status == Drill.Status.DRAFT:
        approved_on = timezone.localtime(planned.approved_at).strftime("%Y-%m-%d %H:%M")
        try:
            approve_start(drill=drill, user=planned.approved_by, comment=f"Approved in advance on {approved_on} for "
                          f"planned drill #{planned.pk}: {planned.approval_comment}")
        except (DrillActionRefused, PermissionDenied) as refusal:
            status = PlannedDrill.Status.AWAITING_APPROVAL
            outcome = (f"Requested as drill #{drill.pk}, but the approval given in advance could not be applied "
                       f"({refusal}); the drill waits for an approver.")
    _conclude(planned, status, outcome, drill=drill)


def _conclude(planned: PlannedDrill, status: str, outcome: str, *, drill: Drill | None = None) -> None:
    PlannedDrill.objects.filter(pk=planned.pk).update(status=status, outcome=outcome, drill=drill)
    planned.status, planned.outcome = status, outcome
    if drill is None:
        # A started drill tells its own start; anything else is told here.
        title = planned.runbook_version.runbook.title
        planned_drill_message(planned, subject=f"Planned {planned.get_kind_display().lower()}: {title} "
                                               f"({planned.system.name}) · {planned.get_status_display().lower()}",
                              body=outcome)
