"""Use cases of recovery plans, shared by the pages, the CLI and the tasks: import and export plans,
start a plan drill, move it on when one of its system drills ends, abort it (docs/plans.md)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.roles import Capability, check
from audit.services import record
from drills.models import Drill
from drills.services import DrillActionRefused, abort_drill, drill_start
from runbooks.models import Runbook, System
from runbooks.yaml_format import spec_hash

from .measurement import service_rto
from .models import Plan, PlanDrill, PlanVersion, SystemRecovery
from .yaml_format import parse_plan_documents, plan_to_yaml

log = logging.getLogger("drdrill.plans")
State = SystemRecovery.State
# A system that waits for one of these will not be started by this plan drill (unless that drill is
# retried or skipped to success on its own page).
STOPS_DEPENDANTS = (State.FAILED, State.ABORTED, State.BLOCKED)
STILL_MOVING = (State.WAITING, State.AWAITING_APPROVAL, State.RUNNING)


class PlanActionRefused(Exception):
    """A person asked for something the plan drill's state does not allow; the message says why."""


# --- plans as code ----------------------------------------------------------------------------------

@dataclass
class PlanImportReport:
    versions_created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{label}: {', '.join(items)}" for label, items in
                 (("new plan versions", self.versions_created), ("plans unchanged", self.unchanged)) if items]
        return "; ".join(parts) or "nothing to import"


def import_plans(*, sources: list[tuple[str, str]], user: AbstractBaseUser | None = None) -> PlanImportReport:
    """Import plans all or nothing. A changed plan (its entries, or the order its systems'
    dependencies give it) gets a new immutable version; an unchanged one nothing. Raises
    PlanFormatError listing every problem."""
    if user is not None:
        check(user, Capability.COORDINATE, "import plans")
    batch = parse_plan_documents(sources)
    report = PlanImportReport()
    with transaction.atomic():
        for parsed in batch.plans:
            spec = {k: v for k, v in parsed.items() if not k.startswith("_")}
            plan, _ = Plan.objects.get_or_create(slug=spec["slug"], defaults={"title": spec["title"]})
            digest = spec_hash(spec)
            latest = plan.latest_version
            if latest is not None and latest.content_hash == digest:
                report.unchanged.append(plan.slug)
                continue
            if plan.title != spec["title"]:
                plan.title = spec["title"]
                plan.save(update_fields=["title"])
            version = PlanVersion.objects.create(
                plan=plan, number=(latest.number + 1) if latest else 1, description=spec["description"], spec=spec,
                content_hash=digest, source_name=parsed["_source"],
                created_by=user if user is not None and user.is_authenticated else None)
            report.versions_created.append(f"{plan.slug} v{version.number}")
            record("plan.version_created", actor=user, obj=version,
                   before={"version": latest.number, "content_hash": latest.content_hash} if latest else None,
                   after={"version": version.number, "content_hash": digest, "source": version.source_name},
                   summary=f"imported plan {plan.slug} v{version.number}")
    return report


def read_plan_sources(path: Path) -> list[tuple[str, str]]:
    files = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"}) if path.is_dir() else [path]
    return [(str(file), file.read_text(encoding="utf-8")) for file in files]


def export_plans(*, plan_slugs: list[str] | None = None) -> str:
    plans = Plan.objects.order_by("slug")
    if plan_slugs:
        plans = plans.filter(slug__in=plan_slugs)
    documents = [plan_to_yaml(v.spec) for v in (p.latest_version for p in plans) if v is not None]
    return yaml.safe_dump({"plans": documents}, sort_keys=False, allow_unicode=True)


# --- plan drills ------------------------------------------------------------------------------------

def production_systems(plan_version: PlanVersion) -> list[System]:
    slugs = [entry["system"] for entry in plan_version.systems]
    return [s for s in System.objects.filter(slug__in=slugs).order_by("name") if s.is_production]


def plan_drill_start(*, plan_version: PlanVersion, user: Any, mode: str = Drill.Mode.LIVE,
                     confirmation: str | None = None) -> PlanDrill:
    """Create the plan drill with one system recovery per entry (each runbook's latest version
    pinned now) and start the systems that wait for nothing. A live plan drill over production
    systems needs the plan's name typed, once; each production system's drill then waits for an
    approver other than the starter, as any live production drill does."""
    check(user, Capability.COORDINATE, "start plan drills")
    if mode not in PlanDrill.MODES:
        raise PlanActionRefused(f"Unknown mode {mode!r}: a plan drill is live, a dry-run or a tabletop.")
    plan = plan_version.plan
    production = production_systems(plan_version)
    if mode == Drill.Mode.LIVE and production and (confirmation or "").strip() not in {plan.title, plan.slug}:
        raise PlanActionRefused(f"This plan recovers production systems ({', '.join(s.name for s in production)}): "
                                f"type the plan's name “{plan.title}” to confirm a live plan drill.")
    runbooks = {r.slug: r for r in Runbook.objects.filter(slug__in=[e["runbook"] for e in plan_version.systems])}
    systems = {s.slug: s for s in System.objects.filter(slug__in=[e["system"] for e in plan_version.systems])}
    with transaction.atomic():
        plan_drill = PlanDrill.objects.create(plan_version=plan_version, mode=mode, started_by=user)
        for position, entry in enumerate(plan_version.systems, start=1):
            version = runbooks[entry["runbook"]].latest_version
            SystemRecovery.objects.create(plan_drill=plan_drill, position=position, system=systems[entry["system"]],
                                          runbook_version=version, after=entry["after"])
        mode_word = {Drill.Mode.DRY_RUN: "dry-run", Drill.Mode.TABLETOP: "tabletop"}.get(mode, "live plan drill")
        record("plan_drill.started", actor=user, obj=plan_drill,
               after={"plan": plan.slug, "version": plan_version.number, "mode": mode},
               summary=f"started a {mode_word} of plan {plan.slug} v{plan_version.number}")
        advance(plan_drill.pk)
    plan_drill.refresh_from_db()
    return plan_drill


def advance(plan_drill_id: int) -> None:
    """Look at a plan drill and start every system whose dependencies have all recovered; end it when
    nothing is left to move. Safe to call any number of times from anywhere (a drill's end, the
    sweep): it only starts what has not been started."""
    with transaction.atomic():
        plan_drill = (PlanDrill.objects.select_for_update(of=("self",)).select_related("plan_version__plan", "started_by")
                      .filter(pk=plan_drill_id, status__in=PlanDrill.MOVABLE).first())
        if plan_drill is None:
            return
        recoveries = list(plan_drill.recoveries.select_related("system", "runbook_version__runbook", "drill")
                          .order_by("position"))
        states: dict[str, str] = {}
        # Positions follow the order, so what a system waits for has its state already.
        for recovery in recoveries:
            state = recovery.drill_state()
            if state is None:
                waits_for = [states[slug] for slug in recovery.after]
                if any(s in STOPS_DEPENDANTS for s in waits_for):
                    state = State.BLOCKED
                elif all(s == State.SUCCEEDED for s in waits_for):
                    try:
                        recovery.drill = _start_system_drill(plan_drill, recovery)
                    except (DrillActionRefused, PermissionDenied) as refusal:
                        _end(plan_drill, recoveries, PlanDrill.Status.FAILED,
                             f"The drill of {recovery.system.name} could not be started: {refusal}")
                        return
                    recovery.save(update_fields=["drill"])
                    state = recovery.drill_state()
                else:
                    state = State.WAITING
            states[recovery.system.slug] = state
        if any(s in STILL_MOVING for s in states.values()):
            if plan_drill.status != PlanDrill.Status.RUNNING:
                # A system drill retried or skipped to success on its own page reopens the plan drill.
                PlanDrill.objects.filter(pk=plan_drill.pk).update(status=PlanDrill.Status.RUNNING, finished_at=None,
                                                                  outcome="", service_rto={})
            return
        if all(s == State.SUCCEEDED for s in states.values()):
            _end(plan_drill, recoveries, PlanDrill.Status.SUCCEEDED,
                 "Every system walked through." if plan_drill.is_tabletop else "Every system recovered.")
        else:
            _end(plan_drill, recoveries, PlanDrill.Status.FAILED,
                 _why_failed(recoveries, states, done_word="walked through" if plan_drill.is_tabletop else "recovered"))


def _start_system_drill(plan_drill: PlanDrill, recovery: SystemRecovery) -> Drill:
    # The starter typed the plan's name for every production system at once (plan_drill_start); the
    # drill's own approval by a second person still applies.
    return drill_start(runbook_version=recovery.runbook_version, user=plan_drill.started_by, mode=plan_drill.mode,
                       confirmation=recovery.system.slug)


def _why_failed(recoveries: list[SystemRecovery], states: dict[str, str], done_word: str = "recovered") -> str:
    parts = []
    for recovery in recoveries:
        state = states[recovery.system.slug]
        if state in (State.FAILED, State.ABORTED):
            parts.append(f"{recovery.system.name} {'failed' if state == State.FAILED else 'was aborted'}")
        elif state == State.BLOCKED:
            waited = ", ".join(r.system.name for r in recoveries if r.system.slug in recovery.after
                               and states[r.system.slug] in STOPS_DEPENDANTS)
            parts.append(f"{recovery.system.name} not started (waits for {waited})")
    recovered = [r.system.name for r in recoveries if states[r.system.slug] == State.SUCCEEDED]
    if recovered:
        parts.append(f"{done_word}: {', '.join(recovered)}")
    return "; ".join(parts) + "."


def _end(plan_drill: PlanDrill, recoveries: list[SystemRecovery], status: str, outcome: str) -> None:
    if (plan_drill.status, plan_drill.outcome) == (status, outcome):
        return  # a failed plan drill looked at again, with nothing new
    figures = service_rto(recoveries, target_seconds=plan_drill.plan_version.rto_target_seconds,
                          dry_run=plan_drill.is_dry_run, tabletop=plan_drill.is_tabletop)
    PlanDrill.objects.filter(pk=plan_drill.pk).update(status=status, finished_at=timezone.now(), outcome=outcome,
                                                      service_rto=figures)
    record(f"plan_drill.{status}", actor=None, obj=plan_drill, after={"status": status},
           summary=f"plan drill {plan_drill.pk} of {plan_drill.plan_version.plan.slug} {status}: {outcome}")


def abort_plan_drill(*, plan_drill: PlanDrill, user: Any, reason: str) -> None:
    """Stop starting systems, and abort every system drill still running or awaiting approval."""
    check(user, Capability.COORDINATE, "abort plan drills")
    if not reason.strip():
        raise PlanActionRefused("Say why the plan drill is aborted: the reason goes into its record.")
    with transaction.atomic():
        aborted = PlanDrill.objects.filter(pk=plan_drill.pk, status__in=PlanDrill.MOVABLE).update(
            status=PlanDrill.Status.ABORTED, finished_at=timezone.now(), outcome=f"Aborted by {user}: {reason}")
        if not aborted:
            raise PlanActionRefused("Only a running or failed plan drill can be aborted.")
        for recovery in plan_drill.recoveries.select_related("drill").filter(
                drill__status__in=(Drill.Status.DRAFT, *Drill.IN_PROGRESS)):  # walking tabletops too
            try:
                abort_drill(drill=recovery.drill, user=user, reason=f"plan drill {plan_drill.pk} aborted: {reason}")
            except DrillActionRefused:
                log.info("drill %s ended while its plan drill was aborted", recovery.drill_id)
        record("plan_drill.aborted", actor=user, obj=plan_drill, after={"status": PlanDrill.Status.ABORTED},
               summary=f"aborted plan drill {plan_drill.pk}: {reason}")
