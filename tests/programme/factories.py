"""Hand-built systems and drills for the programme's tests: a system with a tier and targets, and a
finished drill of a kind with its achieved figures, at a chosen time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from drills.models import Drill, Measurement
from runbooks.models import Runbook, System
from runbooks.services import import_runbooks


def make_system(slug: str, *, tier: int = 2, rto: int = 3600, rpo: int = 600, depends_on: tuple[str, ...] = (),
                environment: str = "staging") -> System:
    import_runbooks(sources=[(f"{slug}.yaml", yaml.safe_dump({"systems": [
        {"slug": slug, "name": slug.replace("-", " ").title(), "tier": tier, "owner": "team", "environment": environment,
         "rto_target": f"{rto}s", "rpo_target": f"{rpo}s", "depends_on": list(depends_on)}]}))])
    return System.objects.get(slug=slug)


def make_runbook(system: System, kind: str, *, steps: list[dict[str, Any]] | None = None) -> Runbook:
    slug = f"{system.slug}-{kind.replace('_', '-')}"
    steps = steps or [{"name": "Wait", "action": "wait", "params": {"seconds": 1}}]
    import_runbooks(sources=[(f"{slug}.yaml", yaml.safe_dump({"runbooks": [
        {"slug": slug, "title": f"{system.name} {kind}", "system": system.slug, "kind": kind, "steps": steps}]}))])
    return Runbook.objects.get(slug=slug)


def finished_drill(system: System, kind: str, at: datetime, *, rto: float | None = None, rpo: float | None = None,
                   mode: str = Drill.Mode.LIVE, status: str = Drill.Status.SUCCEEDED) -> Drill:
    runbook = Runbook.objects.filter(system=system, kind=kind).first() or make_runbook(system, kind)
    drill = Drill.objects.create(runbook_version=runbook.latest_version, system=system, kind=kind, mode=mode,
                                 status=status, started_at=at, finished_at=at)
    for name, value, target in (("rto", rto, system.rto_target_seconds), ("rpo", rpo, system.rpo_target_seconds)):
        if value is not None:
            Measurement.objects.create(drill=drill, kind=name, value_seconds=value, target_seconds=target,
                                       met=value <= target, method="test", evidence={})
    return drill
