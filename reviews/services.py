"""Use cases of reviewing a drill, shared by the pages and the commands: the checklist (its template
and each drill's copy), lessons and action items. Each checks the person's capability, changes what
it changes in one transaction and writes the audit entry in that same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.roles import Capability, check
from audit.services import record
from drills.models import Drill, IndependentCapacity, StepRun
from runbooks.models import Runbook

from .checklist import checklist_template
from .models import MEASURED_ONLY, ActionItem, ChecklistItem, ChecklistTemplateItem, Evidence, Lesson
from .refusals import ReviewRefused
from .selectors import verifying_drill
from .signoff import revise_if_signed_off

# --- the checklist ----------------------------------------------------------------------------------

def tick_checklist_item(*, item: ChecklistItem, user: Any, state: str, note: str = "") -> None:
    """A person ticks an item done, marks it not applicable (a reason is required) or opens it again."""
    check(user, Capability.PARTICIPATE, "tick checklist items")
    note = note.strip()
    if state not in ChecklistItem.State.values:
        raise ReviewRefused(f"Unknown state {state!r}: done, not_applicable or open.")
    if state == ChecklistItem.State.NOT_APPLICABLE and not note:
        raise ReviewRefused(f"Say why “{item.title}” does not apply: the reason goes into the report.")
    if state == ChecklistItem.State.DONE and item.evidence in MEASURED_ONLY:
        raise ReviewRefused(f"“{item.title}” is ticked by the drill's measurement, with its evidence; only a live drill "
                            "measures it. Mark it not applicable with a reason if this drill could not.")
    with transaction.atomic():
        before = {"state": item.state, "note": item.note}
        ChecklistItem.objects.filter(pk=item.pk).update(state=state, note=note, ticked_by=user, ticked_at=timezone.now())
        record("checklist.ticked", actor=user, obj=item, drill_id=item.drill_id, before=before,
               after={"state": state, "note": note},
               summary=f"marked checklist item “{item.title}” {ChecklistItem.State(state).label.lower()}")
        _revise(item.drill_id, user, f"checklist item “{item.title}” marked {state}")


def add_template_item(*, user: Any, title: str, evidence: str = "") -> ChecklistTemplateItem:
    check(user, Capability.COORDINATE, "edit the checklist template")
    title = title.strip()
    if not title:
        raise ReviewRefused("A checklist item needs a title.")
    if evidence not in Evidence.values:
        raise ReviewRefused(f"Unknown evidence {evidence!r}.")
    with transaction.atomic():
        last = max((t.position for t in checklist_template()), default=0)
        item = ChecklistTemplateItem.objects.create(position=last + 1, title=title, evidence=evidence)
        record("checklist.template_changed", actor=user, obj=item, after={"title": title, "evidence": evidence},
               summary=f"added “{title}” to the checklist template")
    return item


def update_template_item(*, item: ChecklistTemplateItem, user: Any, title: str, evidence: str, active: bool) -> None:
    check(user, Capability.COORDINATE, "edit the checklist template")
    title = title.strip()
    if not title:
        raise ReviewRefused("A checklist item needs a title.")
    if evidence not in Evidence.values:
        raise ReviewRefused(f"Unknown evidence {evidence!r}.")
    with transaction.atomic():
        before = {"title": item.title, "evidence": item.evidence, "active": item.active}
        ChecklistTemplateItem.objects.filter(pk=item.pk).update(title=title, evidence=evidence, active=active)
        record("checklist.template_changed", actor=user, obj=item, before=before,
               after={"title": title, "evidence": evidence, "active": active},
               summary=f"changed checklist template item {item.position} “{title}” (applies to drills started from now on)")


# --- lessons and action items -----------------------------------------------------------------------

@dataclass(frozen=True)
class ActionDraft:
    """An action item as a person wrote it, before it is checked."""

    title: str
    owner: str
    due_date: date | None
    runbook: Runbook | None = None
    step_key: str = ""
    severity: str = ""  # set: the item remedies a deficiency, and closes only by a re-test's evidence
    figure: str = ""    # the figure (rto/rpo) a later drill must meet


def record_lesson(*, drill: Drill, user: Any, title: str, what_happened: str, why: str = "",
                  step_run: StepRun | None = None, action: ActionDraft | None = None) -> Lesson:
    """A lesson learned from a drill, with its first action item when one is given."""
    check(user, Capability.PARTICIPATE, "write lessons")
    title, what_happened = title.strip(), what_happened.strip()
    if not title or not what_happened:
        raise ReviewRefused("A lesson needs a title and what happened.")
    if step_run is not None and step_run.drill_id != drill.pk:
        raise ReviewRefused("That step belongs to another drill.")
    with transaction.atomic():
        lesson = Lesson.objects.create(drill=drill, step_run=step_run, title=title, what_happened=what_happened,
                                       why=why.strip(), created_by=user)
        record("lesson.recorded", actor=user, obj=lesson, drill_id=drill.pk,
               after={"title": title, "step": step_run.position if step_run else None},
               summary=f"recorded the lesson “{title}”")
        if action is not None:
            add_action_item(lesson=lesson, user=user, draft=action)
        _revise(drill.pk, user, f"lesson “{title}” recorded")
    return lesson


def add_action_item(*, lesson: Lesson, user: Any, draft: ActionDraft) -> ActionItem:
    check(user, Capability.PARTICIPATE, "add action items")
    title, owner = draft.title.strip(), draft.owner.strip()
    problems = [text for missing, text in ((not title, "what to do"), (not owner, "an owner"),
                                           (draft.due_date is None, "a due date")) if missing]
    if problems:
        raise ReviewRefused(f"An action item needs {', '.join(problems)}.")
    drill = lesson.drill
    runbook = draft.runbook
    if runbook is not None and runbook.system_id != drill.system_id:
        raise ReviewRefused(f"Runbook {runbook.slug} is not a runbook of {drill.system.name}.")
    step_key = draft.step_key.strip()
    if step_key and runbook is None:
        raise ReviewRefused("Name the runbook whose step the action item fixes.")
    if step_key and runbook is not None and not runbook.latest_version.steps.filter(key=step_key).exists():
        raise ReviewRefused(f"Runbook {runbook.slug}'s latest version has no step {step_key!r}.")
    if draft.severity not in ActionItem.Severity.values:
        raise ReviewRefused(f"Unknown severity {draft.severity!r}: {', '.join(v for v in ActionItem.Severity.values if v)}.")
    if draft.figure not in ActionItem.Figure.values:
        raise ReviewRefused(f"Unknown figure {draft.figure!r}: rto or rpo.")
    if draft.figure and not draft.severity:
        raise ReviewRefused("A figure to re-test is given for a deficiency: set its severity too.")
    with transaction.atomic():
        item = ActionItem.objects.create(lesson=lesson, title=title, owner=owner, due_date=draft.due_date,
                                         system=drill.system, runbook=runbook, step_key=step_key, created_by=user,
                                         severity=draft.severity, figure=draft.figure)
        record("action_item.created", actor=user, obj=item, drill_id=drill.pk,
               after={"title": title, "owner": owner, "due_date": draft.due_date, "fixes": item.fixes,
                      "severity": draft.severity, "figure": draft.figure},
               summary=f"added the action item “{title}” for {owner}, due {draft.due_date}"
                       + (f" (a {draft.severity} deficiency)" if draft.severity else ""))
        _revise(drill.pk, user, f"action item “{title}” added")
    return item


def set_action_status(*, item: ActionItem, user: Any, status: str) -> None:
    """Move an action item along. A deficiency's item marked done only becomes "fixed, awaiting
    verification": it closes when a later drill's evidence and a second person confirm the fix."""
    check(user, Capability.PARTICIPATE, "update action items")
    if status not in ActionItem.Status.values:
        raise ReviewRefused(f"Unknown status {status!r}.")
    marked_fixed_by = None
    if item.is_deficiency:
        if status == ActionItem.Status.WONT_DO:
            raise ReviewRefused(f"“{item.title}” remedies a {item.severity} deficiency: it closes only when a later "
                                "drill verifies the fix, never by deciding not to do it.")
        if status in (ActionItem.Status.DONE, ActionItem.Status.AWAITING_VERIFICATION):
            status, marked_fixed_by = ActionItem.Status.AWAITING_VERIFICATION, user
    elif status == ActionItem.Status.AWAITING_VERIFICATION:
        raise ReviewRefused("Only a deficiency's action item awaits verification; mark this one done.")
    with transaction.atomic():
        before = item.status
        closed = status not in ActionItem.OPEN_STATUSES
        ActionItem.objects.filter(pk=item.pk).update(status=status, closed_at=timezone.now() if closed else None,
                                                     marked_fixed_by=marked_fixed_by)
        record("action_item.status", actor=user, obj=item, drill_id=item.lesson.drill_id, before={"status": before},
               after={"status": status}, summary=f"set the action item “{item.title}” to {ActionItem.Status(status).label}")
        _revise(item.lesson.drill_id, user, f"action item “{item.title}” set to {status}")


def confirm_deficiency_fixed(*, item: ActionItem, user: Any) -> Drill:
    """The second person closes a deficiency's item, on the evidence of a later drill that verifies
    the fix (found automatically: reviews.selectors.verifying_drill). Returns that drill."""
    check(user, Capability.SIGN_OFF, "confirm that a deficiency is fixed")
    if not item.is_deficiency:
        raise ReviewRefused(f"“{item.title}” is not a deficiency: its owner marks it done.")
    if item.status != ActionItem.Status.AWAITING_VERIFICATION:
        raise ReviewRefused(f"“{item.title}” is {item.get_status_display().lower()}: its owner marks it fixed first.")
    if item.marked_fixed_by_id == getattr(user, "pk", None):
        raise ReviewRefused("You marked this deficiency fixed: a second person confirms it.")
    drill = verifying_drill(item)
    if drill is None:
        raise ReviewRefused(f"No drill of {item.system.name} since “{item.title}” was opened verifies the fix "
                            f"({item.verification_needed}). Run one, then confirm.")
    with transaction.atomic():
        ActionItem.objects.filter(pk=item.pk).update(status=ActionItem.Status.DONE, closed_at=timezone.now(),
                                                     verified_by_drill=drill, confirmed_by=user)
        record("action_item.verified", actor=user, obj=item, drill_id=item.lesson.drill_id,
               before={"status": item.status}, after={"status": ActionItem.Status.DONE, "verified_by_drill": drill.pk},
               summary=f"confirmed the deficiency “{item.title}” fixed, verified by drill #{drill.pk}")
        _revise(item.lesson.drill_id, user, f"deficiency “{item.title}” closed by drill #{drill.pk}")
    return drill


def acknowledge_deficiency(*, item: ActionItem, user: Any, comment: str) -> None:
    """Management acknowledges a deficiency reported to it (an approver: the people who answer for
    production), with a comment."""
    check(user, Capability.APPROVE, "acknowledge deficiencies reported to management")
    comment = comment.strip()
    if not item.reported_to_management:
        raise ReviewRefused(f"“{item.title}” is not reported to management: only deficiencies of severity "
                            f"{settings.DRDRILL_MANAGEMENT_SEVERITY} or worse are (DRDRILL_MANAGEMENT_SEVERITY).")
    if item.management_acknowledged_at is not None:
        raise ReviewRefused(f"“{item.title}” was acknowledged by {item.management_acknowledged_by} on "
                            f"{item.management_acknowledged_at:%Y-%m-%d}.")
    if not comment:
        raise ReviewRefused("Say what management decided in a comment: it is recorded with the acknowledgement.")
    with transaction.atomic():
        ActionItem.objects.filter(pk=item.pk).update(management_acknowledged_by=user,
                                                     management_acknowledged_at=timezone.now(),
                                                     management_comment=comment)
        record("action_item.acknowledged", actor=user, obj=item, drill_id=item.lesson.drill_id,
               after={"severity": item.severity, "comment": comment},
               summary=f"acknowledged for management the {item.severity} deficiency “{item.title}”")
        _revise(item.lesson.drill_id, user, f"deficiency “{item.title}” acknowledged by management")


def _revise(drill_id: int, user: Any, reason: str) -> None:
    # A signed-off report is frozen: what changed it becomes a new revision.
    revise_if_signed_off(drill_id=drill_id, user=user, reason=reason)


# --- the independent tester -------------------------------------------------------------------------

def record_independent_tester(*, drill: Drill, user: Any, name: str, capacity: str) -> None:
    """A coordinator records that someone independent of the team ran or witnessed the drill: who,
    in which capacity, recorded by whom and when. Recording again replaces it, audited with both."""
    check(user, Capability.COORDINATE, "record the independent tester of a drill")
    name = name.strip()
    if not name:
        raise ReviewRefused("Name the independent tester (a person and, if external, their organisation).")
    if len(name) > 200:
        raise ReviewRefused("The independent tester's name is longer than 200 characters; shorten it.")
    if capacity not in IndependentCapacity.values:
        raise ReviewRefused(f"Unknown capacity {capacity!r}: the independent tester either ran the drill (ran) or "
                            "witnessed it (witnessed).")
    with transaction.atomic():
        before = {"tester": drill.independent_tester, "capacity": drill.independent_capacity} \
            if drill.independent_tester else None
        drill.independent_tester, drill.independent_capacity = name, capacity
        drill.independent_recorded_by, drill.independent_recorded_at = user, timezone.now()
        drill.save(update_fields=["independent_tester", "independent_capacity", "independent_recorded_by",
                                  "independent_recorded_at"])
        words = IndependentCapacity(capacity).label
        record("drill.independent_tester", actor=user, obj=drill, drill_id=drill.pk, before=before,
               after={"tester": name, "capacity": capacity},
               summary=f"recorded that {name}, independent of the team, {words} #{drill.pk}")
        _revise(drill.pk, user, f"independent tester {name} recorded")
