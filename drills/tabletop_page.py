"""What the tabletop page shows, read in one place: the items with what each step says or would do,
the released injects (and, for the facilitator, those still to come), who is present, the estimates,
the timeline, what the viewer may do, and a fingerprint so a poll that finds nothing new swaps
nothing (as the live drill page does, drills/progress.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from accounts.roles import Capability, capabilities_of

from .models import Drill, DrillEvent, EventKind, StepRun
from .progress import TIMELINE_LIMIT
from .selectors import drill_for_page, step_runs_for_page
from .tabletop import Estimate, estimate_of, item_text, present


@dataclass
class Inject:
    key: str
    title: str
    message: str
    at_seconds: float | None
    released: DrillEvent | None

    @property
    def planned(self) -> str:
        return f"T+{self.at_seconds / 60:g} min" if self.at_seconds is not None else "when the facilitator releases it"


@dataclass
class TabletopPage:
    drill: Drill
    items: list[StepRun]
    events: list[DrillEvent]
    injects: list[Inject]
    present: list[Any]
    estimate: Estimate
    facilitator: bool      # the facilitator's view: upcoming injects, release, end
    can_mark: bool         # participate: mark items
    can_facilitate: bool   # coordinate: may open the facilitator's view
    fingerprint: str

    @property
    def released_injects(self) -> list[Inject]:
        return sorted((i for i in self.injects if i.released), key=lambda i: (i.released.at, i.released.pk))

    @property
    def upcoming_injects(self) -> list[Inject]:
        return [i for i in self.injects if not i.released]

    def as_context(self) -> dict[str, Any]:
        return {"drill": self.drill, "items": self.items, "events": self.events, "page": self,
                "fingerprint": self.fingerprint, "keep_polling": self.drill.status == Drill.Status.WALKING}


def tabletop_page(drill_id: int, user: Any, *, facilitator: bool = False) -> TabletopPage:
    drill = drill_for_page(drill_id)
    items = list(step_runs_for_page(drill))
    targets = drill.system.targets
    for item in items:
        item.text = item_text(item.step, targets)
    events = list(DrillEvent.objects.filter(drill=drill).select_related("actor").order_by("-at", "-id")[:TIMELINE_LIMIT])
    events.reverse()
    releases = {e.data.get("inject"): e for e in DrillEvent.objects.filter(
        drill=drill, kind=EventKind.TABLETOP_INJECT_RELEASED).order_by("at", "id")}
    injects = [Inject(i["key"], i["title"], i["message"], i["at_seconds"], releases.get(i["key"]))
               for i in (drill.scenario_version.injects if drill.scenario_version else [])]
    granted = capabilities_of(user)
    can_facilitate = Capability.COORDINATE in granted
    people = present(drill)
    state = (drill.status, drill.outcome, events[-1].pk if events else 0,
             [(i.status, i.note, i.acted_by_id, i.estimated_minutes, i.finished_at) for i in items],
             sorted(releases), [p.pk for p in people])
    return TabletopPage(
        drill=drill, items=items, events=events, injects=injects, present=people, estimate=estimate_of(items),
        facilitator=facilitator and can_facilitate, can_mark=Capability.PARTICIPATE in granted and drill.status == Drill.Status.WALKING,
        can_facilitate=can_facilitate, fingerprint=hashlib.sha256(repr(state).encode()).hexdigest()[:16])
