"""What the live drill page shows, read in one place: the steps, the outage clock, the
measurements and the timeline, what the person looking may do, and a fingerprint so a poll that
finds nothing new swaps nothing. The rules of who may do what live here, not in the templates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from accounts.roles import Capability, capabilities_of
from runbooks.actions import ActionFailed, get_action
from runbooks.plans import step_plan

from .clock import db_now
from .gantt import Gantt, drill_gantt
from .models import Drill, DrillEvent, StepRun, WorkerHeartbeat, marks_of
from .selectors import drill_for_page, step_runs_for_page

TIMELINE_LIMIT = 300
MEASURING_GRACE_SECONDS = 120


@dataclass
class OutageClock:
    started_at: datetime | None
    restored_at: datetime | None
    server_now: datetime

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.restored_at is None

    @property
    def started_ms(self) -> int | None:
        return int(self.started_at.timestamp() * 1000) if self.started_at else None

    @property
    def server_now_ms(self) -> int:
        return int(self.server_now.timestamp() * 1000)

    @property
    def elapsed_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.restored_at or self.server_now) - self.started_at).total_seconds()


@dataclass(frozen=True)
class StepChoices:
    """What the viewer may do to one step (the services check again: a hidden button is a courtesy)."""

    is_gate: bool
    decide_gate: bool   # approve or reject an approval gate
    confirm: bool       # confirm a manual step done
    retry: bool         # retry a failed step of a failed drill
    skip: bool          # skip a waiting step, or a failed step of a failed drill


@dataclass(frozen=True)
class DrillChoices:
    abort: bool
    decide_start: bool  # approve or reject the start of a production drill
    own_request: bool   # an approver looking at the start they requested themselves


def _is_gate(run: StepRun) -> bool:
    try:
        return get_action(run.step.action).is_approval_gate
    except ActionFailed:
        return False


def step_choices(run: StepRun, drill: Drill, user: Any, granted: frozenset[Capability]) -> StepChoices:
    waiting = run.status == StepRun.Status.WAITING
    failed_in_failed_drill = run.status == StepRun.Status.FAILED and drill.status == Drill.Status.FAILED
    is_gate = _is_gate(run)
    coordinate = Capability.COORDINATE in granted
    return StepChoices(
        is_gate=is_gate,
        decide_gate=waiting and is_gate and Capability.APPROVE in granted and drill.started_by_id != getattr(user, "pk", None),
        confirm=waiting and not is_gate and Capability.PARTICIPATE in granted,
        retry=coordinate and failed_in_failed_drill,
        skip=coordinate and not is_gate and (waiting or failed_in_failed_drill),
    )


def drill_choices(drill: Drill, user: Any, granted: frozenset[Capability]) -> DrillChoices:
    abortable = drill.is_active or drill.status in (Drill.Status.FAILED, Drill.Status.DRAFT)
    draft = drill.status == Drill.Status.DRAFT
    approver = Capability.APPROVE in granted
    return DrillChoices(abort=Capability.COORDINATE in granted and abortable,
                        decide_start=draft and approver and drill.started_by_id != getattr(user, "pk", None),
                        own_request=draft and approver and drill.started_by_id == getattr(user, "pk", None))


@dataclass
class DrillProgress:
    drill: Drill
    step_runs: list[StepRun]
    events: list[DrillEvent]
    clock: OutageClock
    fingerprint: str
    choices: DrillChoices
    gantt: Gantt | None = None

    @property
    def keep_polling(self) -> bool:
        """While the drill runs, and shortly after a failed live drill, whose figures a worker
        measures after the failure is recorded."""
        drill = self.drill
        if drill.is_active or drill.status == Drill.Status.DRAFT:  # a draft waits for its approval live
            return True
        measuring = (drill.status == Drill.Status.FAILED and not drill.is_dry_run
                     and not drill.measurements.all() and drill.finished_at is not None)
        return measuring and (self.clock.server_now - drill.finished_at).total_seconds() < MEASURING_GRACE_SECONDS

    def as_context(self) -> dict[str, Any]:
        return {"drill": self.drill, "step_runs": self.step_runs, "events": self.events, "clock": self.clock,
                "fingerprint": self.fingerprint, "rto": self.drill.rto, "rpo": self.drill.rpo,
                "keep_polling": self.keep_polling, "choices": self.choices,
                "resources": list(self.drill.resources.all()),
                "rto_and_rpo": [m for m in (self.drill.rto, self.drill.rpo) if m is not None],
                "live_changes": [run.plan for run in self.step_runs if run.plan.changes_something],
                "gantt": self.gantt}


def queues_without_a_worker(drill: Drill, runs: list[StepRun], now: datetime) -> dict[int, str]:
    """Steps waiting to run on a queue that no live worker serves (its heartbeat is older than three
    beats): the page says so, rather than a step waiting in silence."""
    waiting = {run.pk: drill.targets.get(run.step.params.get("target") or "", {}).get("queue")
               for run in runs if run.status in (StepRun.Status.PENDING, StepRun.Status.POLLING) and run.dispatched_at}
    waiting = {pk: queue for pk, queue in waiting.items() if isinstance(queue, str)}
    if not waiting:
        return {}
    alive = now - timedelta(seconds=3 * settings.DRDRILL_HEARTBEAT_SECONDS)
    served = {queue for queues in WorkerHeartbeat.objects.filter(seen_at__gte=alive).values_list("queues", flat=True)
              for queue in queues}
    return {pk: queue for pk, queue in waiting.items() if queue not in served}


def drill_progress(drill_id: int, user: Any = None) -> DrillProgress:
    """``user`` is who looks: what they may do is computed for them (nobody's, without one)."""
    drill = drill_for_page(drill_id)
    runs = list(step_runs_for_page(drill))
    events = list(DrillEvent.objects.filter(drill=drill).select_related("actor").order_by("-at", "-id")[:TIMELINE_LIMIT])
    events.reverse()
    marks = {name: at for name, (at, _) in marks_of(runs).items()}
    clock = OutageClock(marks.get("outage_start"), marks.get("service_restored"), db_now())
    unserved = queues_without_a_worker(drill, runs, clock.server_now) if drill.is_active else {}
    for run in runs:
        run.waits_for_queue = unserved.get(run.pk)
    state = (drill.status, drill.outcome, events[-1].pk if events else 0,
             [(r.status, r.attempt, r.error, r.finished_at, r.waits_for_queue) for r in runs],
             [(m.kind, m.value_seconds) for m in drill.measurements.all()],
             [(r.identifier, r.status) for r in drill.resources.all()])
    fingerprint = hashlib.sha256(repr(state).encode()).hexdigest()[:16]
    granted = capabilities_of(user)
    for run in runs:
        run.choices = step_choices(run, drill, user, granted)
        # What the step does, in words, against the drill's pinned bindings: a dry-run's row shows
        # its plan, a live drill's what it is doing.
        run.plan = step_plan(run.step, drill.targets)
    gantt = drill_gantt(drill, runs, now=clock.server_now, outage_start=clock.started_at,
                        service_restored=clock.restored_at)
    return DrillProgress(drill, runs, events, clock, fingerprint, drill_choices(drill, user, granted), gantt)
