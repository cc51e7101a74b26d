"""Reads for the review pages, the report and the includes other pages load."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from drills.models import Drill, StepRun
from runbooks.models import System

from .checklist import ensure_checklist
from .evidence import Proof, proofs_of
from .models import ActionItem, ChecklistItem, Lesson


@dataclass
class ChecklistRow:
    item: ChecklistItem
    proof: Proof | None

    @property
    def state(self) -> str:
        """What the report says: evidence ticks an item whatever a person said."""
        return ChecklistItem.State.DONE if self.proof else self.item.state

    @property
    def state_label(self) -> str:
        if self.proof:
            return "Done (proven)"
        return self.item.get_state_display()


def checklist_of(drill: Drill, step_runs: list[StepRun]) -> list[ChecklistRow]:
    proofs = proofs_of(drill, step_runs)
    ensure_checklist(drill.pk)
    items = ChecklistItem.objects.filter(drill=drill).select_related("ticked_by").order_by("position")
    return [ChecklistRow(i, proofs.get(i.evidence) if i.evidence else None) for i in items]


def lessons_of(drill: Drill) -> list[Lesson]:
    return list(Lesson.objects.filter(drill=drill).select_related("step_run", "created_by").prefetch_related(
        "action_items__runbook", "action_items__system").order_by("created_at", "pk"))


def proposed_lessons(step_runs: list[StepRun], lessons: list[Lesson]) -> list[StepRun]:
    """Blocked tabletop items and failed steps that no lesson speaks of yet: each proposes one."""
    spoken_of = {lesson.step_run_id for lesson in lessons}
    return [r for r in step_runs if r.status in (StepRun.Status.BLOCKED, StepRun.Status.FAILED) and r.pk not in spoken_of]


def open_action_items(*, system: System | None = None) -> QuerySet[ActionItem]:
    items = ActionItem.objects.filter(status__in=ActionItem.OPEN_STATUSES).select_related(
        "system", "runbook", "lesson__drill")
    if system is not None:
        items = items.filter(system=system)
    return items.order_by("due_date", "pk")


def action_items(*, system: System | None = None, status: str = "") -> QuerySet[ActionItem]:
    items = ActionItem.objects.select_related("system", "runbook", "lesson__drill")
    if system is not None:
        items = items.filter(system=system)
    if status == "open":
        items = items.filter(status__in=ActionItem.OPEN_STATUSES)
    elif status == "overdue":
        items = items.filter(status__in=ActionItem.OPEN_STATUSES, due_date__lt=today())
    elif status:
        items = items.filter(status=status)
    return items.order_by("due_date", "pk")


def today() -> date:
    return timezone.localdate()


def overdue_count(*, system: System | None = None) -> int:
    query = Q(status__in=ActionItem.OPEN_STATUSES, due_date__lt=today())
    if system is not None:
        query &= Q(system=system)
    return ActionItem.objects.filter(query).count()


def review_fingerprint(rows: list[ChecklistRow], lessons: list[Lesson], proposed: list[StepRun]) -> str:
    state: list[Any] = [(r.item.pk, r.state, r.item.note, bool(r.proof)) for r in rows]
    state += [(lesson.pk, [(a.pk, a.status) for a in lesson.action_items.all()]) for lesson in lessons]
    state += [r.pk for r in proposed]
    return hashlib.sha256(repr(state).encode()).hexdigest()[:16]


def verifying_drill(item: ActionItem) -> Drill | None:
    """The latest live drill of the item's system, finished after the item was opened, whose evidence
    verifies the fix: the step it fixes succeeded, or the figure it fixes is within its target, or
    (neither named) the drill succeeded with every measured figure within its target."""
    drills = (Drill.objects.filter(system_id=item.system_id, mode=Drill.Mode.LIVE, finished_at__gt=item.created_at,
                                   status__in=(Drill.Status.SUCCEEDED, Drill.Status.FAILED))
              .exclude(kind="tabletop").exclude(pk=item.lesson.drill_id).order_by("-finished_at", "-pk"))
    if item.runbook_id:
        drills = drills.filter(runbook_version__runbook_id=item.runbook_id)
    if item.step_key:
        drills = drills.filter(step_runs__step__key=item.step_key, step_runs__status=StepRun.Status.SUCCEEDED)
    elif item.figure:
        drills = drills.filter(measurements__kind=item.figure, measurements__met=True)
    else:
        drills = drills.filter(status=Drill.Status.SUCCEEDED).exclude(measurements__met=False).filter(
            measurements__met=True)
    return drills.distinct().first()


def lesson_facts(drill_ids: list[int]) -> dict[int, set[str]]:
    """What the catalogue counts from reviews (compliance.evidence): the drills with lessons recorded."""
    return {drill_id: {"lessons"} for drill_id in
            Lesson.objects.filter(drill_id__in=drill_ids).values_list("drill_id", flat=True).distinct()}
