"""What the live drill page shows, read in one place: the steps, the outage clock, the
measurements and the timeline, plus a fingerprint so a poll that finds nothing new swaps nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import db_now
from .models import Drill, DrillEvent, StepRun
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


@dataclass
class DrillProgress:
    drill: Drill
    step_runs: list[StepRun]
    events: list[DrillEvent]
    clock: OutageClock
    fingerprint: str

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
                "keep_polling": self.keep_polling,
                "rto_and_rpo": [m for m in (self.drill.rto, self.drill.rpo) if m is not None]}


def drill_progress(drill_id: int) -> DrillProgress:
    drill = drill_for_page(drill_id)
    runs = list(step_runs_for_page(drill))
    events = list(DrillEvent.objects.filter(drill=drill).select_related("actor").order_by("-at", "-id")[:TIMELINE_LIMIT])
    events.reverse()
    marks: dict[str, datetime] = {}
    for run in runs:
        for name, at in (run.marks or {}).items():
            marks[name] = datetime.fromisoformat(at)
    clock = OutageClock(marks.get("outage_start"), marks.get("service_restored"), db_now())
    state = (drill.status, drill.outcome, events[-1].pk if events else 0,
             [(r.status, r.attempt, r.error, r.finished_at) for r in runs],
             [(m.kind, m.value_seconds) for m in drill.measurements.all()])
    fingerprint = hashlib.sha256(repr(state).encode()).hexdigest()[:16]
    return DrillProgress(drill, runs, events, clock, fingerprint)
