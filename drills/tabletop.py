"""Tabletop exercises: a runbook walked through by people against a scenario, never executed.

A tabletop is a Drill in mode ``tabletop`` whose status while it is walked is ``walking``, outside
``Drill.ACTIVE``: the engine (advance, claim, finish, the sweep) and the services people use on a
running drill (confirm, skip, retry) act only on ACTIVE drills, so nothing here can be dispatched,
executed or measured, whoever sends what. No Measurement row is ever written for a tabletop; what
it records instead is the team's estimate of each step's time, shown as an estimate.

The facilitation use cases live here: start, mark an item done / skipped / blocked (who, when, a
note, the estimated minutes), presence (touched by the page's polls), injects (released by the
facilitator or, when a poll finds one due, at T+N), and the end of the walkthrough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from accounts.roles import Capability, check
from audit.services import record
from runbooks.actions import ActionFailed, ParamError, get_action, parse_params
from runbooks.models import RunbookVersion, ScenarioVersion, Step

from . import snapshot
from .clock import db_now
from .models import Drill, DrillEvent, EventKind, Presence, StepRun
from .signals import drill_ended
from .timeline import record_event, step_label

PRESENT_FOR = timedelta(minutes=1)
MAX_ESTIMATE_MINUTES = 60 * 24 * 30

OUTCOMES = {
    "done": (StepRun.Status.SUCCEEDED, EventKind.TABLETOP_ITEM_DONE, "done"),
    "skipped": (StepRun.Status.SKIPPED, EventKind.TABLETOP_ITEM_SKIPPED, "skipped"),
    "blocked": (StepRun.Status.BLOCKED, EventKind.TABLETOP_ITEM_BLOCKED, "blocked"),
}


class TabletopRefused(Exception):
    """A person asked for something the tabletop's state does not allow; the message says why."""


# --- starting ---------------------------------------------------------------------------------------

def start_tabletop(*, runbook_version: RunbookVersion, user: Any,
                   scenario_version: ScenarioVersion | None = None) -> Drill:
    """Create the tabletop pinned to the runbook version (and scenario version), one item per step.
    Nothing is dispatched: people walk it."""
    check(user, Capability.COORDINATE, "start tabletops")
    runbook = runbook_version.runbook
    pinned = snapshot.take(runbook_version)
    with transaction.atomic():
        now = db_now()
        drill = Drill.objects.create(runbook_version=runbook_version, system=runbook.system, kind=runbook.kind,
                                     mode=Drill.Mode.TABLETOP, status=Drill.Status.WALKING, started_by=user,
                                     started_at=now, scenario_version=scenario_version, snapshot=pinned,
                                     snapshot_digest=snapshot.digest(pinned))
        StepRun.objects.bulk_create(StepRun(drill=drill, step=step, position=step.position)
                                    for step in runbook_version.steps.order_by("position"))
        against = f" against the scenario “{scenario_version.scenario.title}” v{scenario_version.number}" if scenario_version else ""
        details = {"runbook": runbook.slug, "version": runbook_version.number, "mode": Drill.Mode.TABLETOP,
                   "scenario": scenario_version.scenario.slug if scenario_version else None,
                   "scenario_version": scenario_version.number if scenario_version else None}
        record_event(drill.pk, EventKind.TABLETOP_STARTED,
                     f"Tabletop of {runbook.title} v{runbook_version.number}{against} started by {user}. "
                     "Nothing is executed: the team walks through the steps.", actor=user, at=now, data=details)
        record("tabletop.started", actor=user, obj=drill, drill_id=drill.pk, after=details,
               summary=f"started a tabletop of {runbook.slug} v{runbook_version.number}{against}")
    return drill


# --- walking the items ------------------------------------------------------------------------------

def mark_item(*, step_run: StepRun, user: Any, outcome: str, note: str = "",
              estimated_minutes: int | None = None) -> None:
    """Mark one item done, skipped or blocked, with who, when, a note and the estimated minutes.
    An item may be marked again (a blocked item solved later): the timeline keeps every change."""
    check(user, Capability.PARTICIPATE, "walk tabletop items")
    if outcome not in OUTCOMES:
        raise TabletopRefused(f"Unknown outcome {outcome!r}: mark an item done, skipped or blocked.")
    note = note.strip()
    if outcome == "blocked" and not note:
        raise TabletopRefused("Say what blocked this step: the note becomes the lesson it proposes.")
    if outcome == "skipped" and not note:
        raise TabletopRefused("Say why the step is skipped: the reason goes into the tabletop's record.")
    if estimated_minutes is not None and not 0 <= estimated_minutes <= MAX_ESTIMATE_MINUTES:
        raise TabletopRefused(f"The estimate is in minutes, from 0 to {MAX_ESTIMATE_MINUTES}.")
    status, event, word = OUTCOMES[outcome]
    with transaction.atomic():
        now = db_now()
        marked = StepRun.objects.filter(pk=step_run.pk, drill__status=Drill.Status.WALKING).update(
            status=status, note=note, acted_by=user, finished_at=now, estimated_minutes=estimated_minutes)
        if not marked:
            raise TabletopRefused("This tabletop is not in progress any more.")
        estimate = f" Estimated {estimated_minutes} min." if estimated_minutes is not None else ""
        said = f" Note: {note}" if note else ""
        record_event(step_run.drill_id, event, f"{step_label(step_run)} {word} by {user}.{estimate}{said}",
                     step_run=step_run, actor=user, at=now,
                     data={"outcome": outcome, "estimated_minutes": estimated_minutes})
        record("tabletop.item_marked", actor=user, obj=step_run, drill_id=step_run.drill_id,
               after={"outcome": outcome, "note": note, "estimated_minutes": estimated_minutes},
               summary=f"marked tabletop item {step_run.position} “{step_run.step.name}” {word}")


def end_tabletop(*, drill: Drill, user: Any) -> None:
    """The facilitator closes the walkthrough; items nobody reached are cancelled."""
    check(user, Capability.COORDINATE, "end tabletops")
    with transaction.atomic():
        now = db_now()
        counts = {word: drill.step_runs.filter(status=status).count() for word, (status, _, _) in OUTCOMES.items()}
        not_reached = drill.step_runs.filter(status=StepRun.Status.PENDING).count()
        outcome = (f"Tabletop walked through: {counts['done']} done, {counts['skipped']} skipped, "
                   f"{counts['blocked']} blocked" + (f", {not_reached} not reached" if not_reached else "") + ".")
        ended = Drill.objects.filter(pk=drill.pk, status=Drill.Status.WALKING).update(
            status=Drill.Status.SUCCEEDED, finished_at=now, outcome=outcome)
        if not ended:
            raise TabletopRefused("This tabletop is not in progress any more.")
        drill.step_runs.filter(status=StepRun.Status.PENDING).update(status=StepRun.Status.CANCELLED, finished_at=now)
        record_event(drill.pk, EventKind.TABLETOP_ENDED, f"Tabletop ended by {user}. {outcome}", actor=user, at=now,
                     data=counts)
        record("tabletop.ended", actor=user, obj=drill, drill_id=drill.pk, summary=f"ended the tabletop: {outcome}",
               before={"status": Drill.Status.WALKING}, after={"status": Drill.Status.SUCCEEDED})
        transaction.on_commit(lambda: drill_ended.send(sender=Drill, drill_id=drill.pk))


# --- injects ----------------------------------------------------------------------------------------

def released_keys(events: list[DrillEvent]) -> set[str]:
    return {e.data.get("inject") for e in events if e.kind == EventKind.TABLETOP_INJECT_RELEASED}


def _release(drill: Drill, inject: dict[str, Any], *, user: Any, now: datetime, by: str) -> bool:
    """Write the inject's release on the timeline once: the drill row is locked, and an inject
    already on the timeline is not released again (two facilitators, or a poll, at once)."""
    locked = Drill.objects.select_for_update().filter(pk=drill.pk, status=Drill.Status.WALKING).first()
    if locked is None:
        raise TabletopRefused("This tabletop is not in progress any more.")
    already = DrillEvent.objects.filter(drill=drill, kind=EventKind.TABLETOP_INJECT_RELEASED)
    if inject["key"] in released_keys(list(already)):
        return False
    record_event(drill.pk, EventKind.TABLETOP_INJECT_RELEASED, f"Inject “{inject['title']}”: {inject['message']}",
                 actor=user, at=now, data={"inject": inject["key"], "title": inject["title"], "by": by})
    return True


def release_inject(*, drill: Drill, user: Any, key: str) -> None:
    """The facilitator releases an inject now, whatever its planned time."""
    check(user, Capability.COORDINATE, "release injects")
    inject = next((i for i in (drill.scenario_version.injects if drill.scenario_version else []) if i["key"] == key), None)
    if inject is None:
        raise TabletopRefused(f"This tabletop's scenario has no inject {key!r}.")
    with transaction.atomic():
        if not _release(drill, inject, user=user, now=db_now(), by="facilitator"):
            raise TabletopRefused(f"The inject “{inject['title']}” was already released.")
        record("tabletop.inject_released", actor=user, obj=drill, drill_id=drill.pk,
               summary=f"released the inject “{inject['title']}”", after={"inject": key})


def release_due_injects(drill: Drill) -> int:
    """Release the timed injects whose T+N has come. Called by the page's polls: the people looking
    are the clock, so an inject lands while someone is there to read it."""
    if drill.status != Drill.Status.WALKING or drill.scenario_version is None or drill.started_at is None:
        return 0
    now = db_now()
    due = [i for i in drill.scenario_version.injects
           if i["at_seconds"] is not None and drill.started_at + timedelta(seconds=i["at_seconds"]) <= now]
    if not due:
        return 0
    done = released_keys(list(drill.events.filter(kind=EventKind.TABLETOP_INJECT_RELEASED)))
    released = 0
    for inject in (i for i in due if i["key"] not in done):
        with transaction.atomic():
            try:
                released += _release(drill, inject, user=None, now=now, by=f"planned at T+{inject['at_seconds']:g} s")
            except TabletopRefused:
                return released
    return released


# --- presence ---------------------------------------------------------------------------------------

def touch_presence(*, drill: Drill, user: Any) -> None:
    """This person is looking at the tabletop now."""
    if drill.status != Drill.Status.WALKING or not getattr(user, "is_authenticated", False):
        return
    now = db_now()
    if Presence.objects.filter(drill=drill, user=user).update(seen_at=now):
        return
    try:
        with transaction.atomic():
            Presence.objects.create(drill=drill, user=user, seen_at=now)
    except IntegrityError:  # the same person's other tab got there first
        Presence.objects.filter(drill=drill, user=user).update(seen_at=now)


def present(drill: Drill) -> list[Any]:
    since = db_now() - PRESENT_FOR
    return [p.user for p in Presence.objects.filter(drill=drill, seen_at__gte=since).select_related("user")
            .order_by("user__username")]


# --- what an item says, and the estimates ------------------------------------------------------------

@dataclass(frozen=True)
class ItemText:
    manual: bool   # a person's step: its instructions; otherwise what the action would do
    text: str


def item_text(step: Step, targets: dict[str, dict[str, Any]]) -> ItemText:
    """What the team reads for one step: a manual step's instructions, or in words what an automated
    step would do (``describe``: from the parameters and bindings alone, touching nothing; never
    ``plan()``, which reaches the systems)."""
    try:
        action = get_action(step.action)
        params = parse_params(action.Params, step.params)
    except (ActionFailed, ParamError) as error:
        return ItemText(False, f"{step.action}: {error}")
    return ItemText(action.phase == "people", action.describe(params, targets))


@dataclass(frozen=True)
class Estimate:
    """A tabletop's estimates, in minutes. Never an achieved figure: nothing was run or measured."""

    total_minutes: int
    estimated_items: int
    items: int
    # From the step that declares the outage (outage_start) to the one that restores the service
    # (service_restored), when the runbook marks both and every step between was estimated.
    recovery_minutes: int | None

    @property
    def complete(self) -> bool:
        return self.estimated_items == self.items


def estimate_of(step_runs: list[StepRun]) -> Estimate:
    runs = sorted(step_runs, key=lambda r: r.position)
    estimated = [r for r in runs if r.estimated_minutes is not None]
    start = next((r.position for r in runs if "outage_start" in r.step.marks), None)
    end = next((r.position for r in runs if "service_restored" in r.step.marks), None)
    recovery = None
    if start is not None and end is not None and end > start:
        between = [r for r in runs if start < r.position <= end and r.status != StepRun.Status.SKIPPED]
        if between and all(r.estimated_minutes is not None for r in between):
            recovery = sum(r.estimated_minutes for r in between)
    return Estimate(total_minutes=sum(r.estimated_minutes for r in estimated), estimated_items=len(estimated),
                    items=len(runs), recovery_minutes=recovery)
