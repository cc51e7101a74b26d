"""What a drill is pinned to, cached per worker process: its runbook version's steps (immutable rows)
and its snapshot and mode (fixed when the drill is created). The hot path reads them for every step;
caching what cannot change saves a query per step. Nothing that changes (statuses, claims, results)
is cached. The one way pins could go stale is a database recreated under a running process, which
hands the same drill ids out again: every claim and every ``advance`` checks the step ids it just read
against the cached pins (``holding``) and reads them afresh when they disagree."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from django.conf import settings

from runbooks.actions import ActionFailed, get_action, parse_params
from runbooks.models import Step

from .models import Drill

CACHED_DRILLS = 256


@dataclass(frozen=True)
class PinnedStep:
    id: int
    position: int
    key: str
    name: str
    action: str
    params: dict[str, Any]
    timeout_seconds: float
    retries: int
    marks: tuple[str, ...]
    group: str

    @property
    def label(self) -> str:
        return f"Step {self.position} “{self.name}”"

    @property
    def target(self) -> str | None:
        target = self.params.get("target")
        return target if isinstance(target, str) else None

    @property
    def is_approval_gate(self) -> bool:
        try:
            return get_action(self.action).is_approval_gate
        except ActionFailed:
            return False


@dataclass(frozen=True)
class PinnedDrill:
    id: int
    version_id: int
    mode: str
    targets: dict[str, dict[str, Any]]
    steps: tuple[PinnedStep, ...]  # by position, from 1

    @property
    def is_dry_run(self) -> bool:
        return self.mode == Drill.Mode.DRY_RUN

    def step_at(self, position: int) -> PinnedStep:
        return self.steps[position - 1]

    def queue_of(self, step: PinnedStep) -> str | None:
        """The worker queue a step must run on: its target's binding may name one (a worker beside
        the database, for a tool that must run on its host)."""
        binding = self.targets.get(step.target or "", {})
        queue = binding.get("queue")
        return queue if isinstance(queue, str) and queue else None


def pinned_step(step: Step) -> PinnedStep:
    return PinnedStep(id=step.pk, position=step.position, key=step.key, name=step.name, action=step.action,
                      params=step.params or {}, timeout_seconds=step.timeout_seconds, retries=step.retries,
                      marks=tuple(step.marks or ()), group=step.group)


def lease_seconds(step: Step | PinnedStep) -> float:
    """The action's own limit on one call, plus the grace: how long a claim holds."""
    try:
        action = get_action(step.action)
        timeout = action.call_timeout(parse_params(action.Params, step.params))
    except (ActionFailed, ValueError):
        timeout = 30.0
    return timeout + settings.DRDRILL_LEASE_GRACE_SECONDS


_drills: OrderedDict[int, PinnedDrill] = OrderedDict()
_lock = Lock()


def pinned_drill(drill_id: int, *, holding: dict[int, int] | None = None) -> PinnedDrill | None:
    """The drill's pins, from this process's cache. ``holding`` (position → step id, as a query
    just read them) checks the cached pins against the database: an id means one drill only as long
    as the database lives, and one recreated under a running process (a test run, a reset demo)
    hands the same ids out again. Pins that disagree are read afresh."""
    with _lock:
        found = _drills.get(drill_id)
        if found is not None and holding and any(
                position > len(found.steps) or found.step_at(position).id != step_id
                for position, step_id in holding.items()):
            del _drills[drill_id]
            found = None
        if found is not None:
            _drills.move_to_end(drill_id)
            return found
    row = Drill.objects.filter(pk=drill_id).values("runbook_version_id", "mode", "snapshot").first()
    if row is None:
        return None
    steps = tuple(pinned_step(s) for s in Step.objects.filter(version_id=row["runbook_version_id"]).order_by("position"))
    pinned = PinnedDrill(id=drill_id, version_id=row["runbook_version_id"], mode=row["mode"],
                         targets=(row["snapshot"] or {}).get("targets", {}), steps=steps)
    with _lock:
        _drills[drill_id] = pinned
        while len(_drills) > CACHED_DRILLS:
            _drills.popitem(last=False)
    return pinned
