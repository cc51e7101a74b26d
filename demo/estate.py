"""A demo estate that shows what a DR programme looks like: the handbook's business impact analysis
(payment processing tier 0 at 30 min / 5 min on a payment gateway and a database, the customer
portal tier 1 at 2 h / 30 min, reporting tier 2 at 8 h / 4 h, the internal wiki tier 3 at 24 h /
24 h) and a few more, with two years of sample history that improves and sometimes regresses.

Every generated drill is marked ``sample`` (shown as SAMPLE wherever it appears) and its figures'
evidence says they were generated. Generating is idempotent and creates only what is missing: a
system, runbook or history someone already has is never changed. ``manage.py sample_estate``
runs it; ``manage.py demo`` (and so ``make run``) too; tests use it to build a history."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from drills.models import Drill, DrillEvent, Measurement, StepRun
from programme.cadence import add_months
from programme.models import Subscription, default_cadence_months
from programme.notifications import DEFAULT_EVENTS
from runbooks.models import DrillKind, Runbook, System
from runbooks.services import import_runbooks

MIN = 60
HOUR = 3600
SAMPLE_USER = "sample-data"


@dataclass
class EstateSystem:
    slug: str
    name: str
    tier: int
    rto: int  # target, seconds
    rpo: int
    owner: str
    depends_on: list[str] = field(default_factory=list)
    environment: str = "production"
    # Achieved figures over the two years, oldest first, in seconds: the history follows this curve
    # (with some noise), so it improves and regresses where the curve does. None: never drilled live.
    rto_curve: list[float] | None = None
    rpo_curve: list[float] | None = None
    # Drills of these kinds stopped this many months ago (to show overdue systems).
    lapsed: dict[str, int] = field(default_factory=dict)


ESTATE: list[EstateSystem] = [
    EstateSystem("payment-gateway", "Payment gateway", 0, 20 * MIN, 1 * MIN, "Payments team",
                 rto_curve=[2 * HOUR, 90 * MIN, 60 * MIN, 45 * MIN, 30 * MIN, 25 * MIN, 20 * MIN, 16 * MIN],
                 rpo_curve=[10 * MIN, 8 * MIN, 5 * MIN, 4 * MIN, 2 * MIN, 2 * MIN, 60, 50]),
    EstateSystem("payments-database", "Payments database", 0, 20 * MIN, 1 * MIN, "Database team",
                 rto_curve=[90 * MIN, 80 * MIN, 60 * MIN, 45 * MIN, 30 * MIN, 35 * MIN, 25 * MIN, 18 * MIN],
                 rpo_curve=[5 * MIN, 5 * MIN, 3 * MIN, 2 * MIN, 60, 90, 55, 40]),
    # The handbook's trend: RTO from 6 hours to 45 minutes over two years (with a regression a year in).
    EstateSystem("payment-processing", "Payment processing", 0, 30 * MIN, 5 * MIN, "Payments team",
                 depends_on=["payment-gateway", "payments-database"],
                 rto_curve=[6 * HOUR, 5 * HOUR, 200 * MIN, 150 * MIN, 110 * MIN, 130 * MIN, 60 * MIN, 45 * MIN],
                 rpo_curve=[30 * MIN, 25 * MIN, 20 * MIN, 15 * MIN, 10 * MIN, 12 * MIN, 6 * MIN, 4 * MIN]),
    EstateSystem("auth-service", "Auth service", 1, 1 * HOUR, 15 * MIN, "Identity team",
                 rto_curve=[4 * HOUR, 200 * MIN, 150 * MIN, 120 * MIN, 90 * MIN, 60 * MIN, 50 * MIN, 45 * MIN],
                 rpo_curve=[60 * MIN, 45 * MIN, 30 * MIN, 20 * MIN, 15 * MIN, 15 * MIN, 10 * MIN, 10 * MIN]),
    EstateSystem("api-gateway", "API gateway", 1, 1 * HOUR, 15 * MIN, "Platform team",
                 rto_curve=[3 * HOUR, 150 * MIN, 120 * MIN, 100 * MIN, 80 * MIN, 70 * MIN, 60 * MIN, 50 * MIN],
                 rpo_curve=[30 * MIN, 30 * MIN, 20 * MIN, 20 * MIN, 15 * MIN, 15 * MIN, 10 * MIN, 10 * MIN]),
    EstateSystem("customer-portal", "Customer portal", 1, 2 * HOUR, 30 * MIN, "Web team",
                 depends_on=["auth-service", "api-gateway"],
                 rto_curve=[5 * HOUR, 280 * MIN, 4 * HOUR, 200 * MIN, 150 * MIN, 100 * MIN, 90 * MIN, 80 * MIN],
                 rpo_curve=[60 * MIN, 50 * MIN, 45 * MIN, 40 * MIN, 30 * MIN, 25 * MIN, 20 * MIN, 20 * MIN],
                 lapsed={DrillKind.FULL_FAILOVER: 14}),
    # Slower than what needs it: the BIA warns that reporting's 8 h cannot hold on a 12 h warehouse.
    EstateSystem("data-warehouse", "Data warehouse", 2, 12 * HOUR, 4 * HOUR, "Data team",
                 rto_curve=[24 * HOUR, 20 * HOUR, 1000 * MIN, 15 * HOUR, 800 * MIN, 850 * MIN, 700 * MIN, 650 * MIN],
                 rpo_curve=[8 * HOUR, 6 * HOUR, 5 * HOUR, 4 * HOUR, 4 * HOUR, 4 * HOUR, 200 * MIN, 3 * HOUR]),
    EstateSystem("reporting", "Reporting system", 2, 8 * HOUR, 4 * HOUR, "Data team", depends_on=["data-warehouse"],
                 rto_curve=[12 * HOUR, 11 * HOUR, 10 * HOUR, 9 * HOUR, 8 * HOUR, 520 * MIN, 450 * MIN, 420 * MIN],
                 rpo_curve=[6 * HOUR, 5 * HOUR, 4 * HOUR, 4 * HOUR, 200 * MIN, 4 * HOUR, 200 * MIN, 3 * HOUR],
                 lapsed={DrillKind.BACKUP_RESTORE: 3}),
    EstateSystem("internal-wiki", "Internal wiki", 3, 24 * HOUR, 24 * HOUR, "IT services",
                 rto_curve=[30 * HOUR, 27 * HOUR, 25 * HOUR, 24 * HOUR, 22 * HOUR, 20 * HOUR, 19 * HOUR, 17 * HOUR],
                 rpo_curve=[20 * HOUR] * 8),
    # Tier 1 and never drilled live: only walked through at tabletops (a BIA warning).
    EstateSystem("notification-service", "Notification service", 1, 2 * HOUR, 30 * MIN, "Platform team",
                 depends_on=["api-gateway"]),
]

KIND_SLUGS = {DrillKind.TABLETOP: "tabletop", DrillKind.PARTIAL_FAILOVER: "partial-failover",
              DrillKind.FULL_FAILOVER: "full-failover", DrillKind.BACKUP_RESTORE: "backup-restore"}
# How a kind's figures relate to the system's curve: a partial failover of non-production is quicker,
# a backup restore slower to recover but its RPO is the backup's age.
KIND_FACTORS = {DrillKind.PARTIAL_FAILOVER: (0.8, 1.0), DrillKind.FULL_FAILOVER: (1.0, 1.0),
                DrillKind.BACKUP_RESTORE: (1.1, 1.2)}
HISTORY_MONTHS = 24


@dataclass
class EstateReport:
    systems_created: list[str] = field(default_factory=list)
    runbooks_created: list[str] = field(default_factory=list)
    sample_drills: int = 0
    subscriptions_created: int = 0

    def summary(self) -> str:
        return (f"{len(self.systems_created)} systems and {len(self.runbooks_created)} runbooks created, "
                f"{self.sample_drills} sample drills generated, {self.subscriptions_created} subscriptions added")


def runbook_doc(system: EstateSystem, kind: str) -> dict[str, Any]:
    title = f"{system.name} {DrillKind(kind).label.lower()}"
    checklist = [
        {"name": "Notify stakeholders", "action": "manual.confirm",
         "params": {"instructions": f"Tell the {system.owner} and the stakeholders that the drill starts."}},
        {"name": "Declare the disaster", "action": "manual.confirm", "marks": ["outage_start"],
         "params": {"instructions": f"The coordinator declares {system.name} lost."}},
        {"name": "Recover", "action": "wait", "params": {"seconds": 2}},
        {"name": "Verify the application", "action": "manual.confirm", "marks": ["service_restored"],
         "params": {"instructions": f"The owner verifies {system.name} serves again."}},
    ]
    return {"slug": f"{system.slug}-{KIND_SLUGS[kind]}", "title": title, "system": system.slug, "kind": kind,
            "description": "Sample runbook of the demo estate: people confirm each step; nothing is touched.",
            "steps": checklist}


def generate_estate(*, today: date | None = None, seed: int = 2026, history: bool = True,
                    subscriptions: bool = True) -> EstateReport:
    """Create the estate's missing systems, runbooks and history. ``today`` fixes the history's end
    (tests pass one, so the figures of a chosen quarter are known)."""
    report = EstateReport()
    today = today or timezone.localdate()
    existing_systems = set(System.objects.filter(slug__in=[s.slug for s in ESTATE]).values_list("slug", flat=True))
    missing = [s for s in ESTATE if s.slug not in existing_systems]
    docs_systems = [{"slug": s.slug, "name": s.name, "tier": s.tier, "owner": s.owner, "environment": s.environment,
                     "description": "Sample system of the demo estate (manage.py sample_estate).",
                     "rto_target": f"{s.rto}s", "rpo_target": f"{s.rpo}s", "depends_on": s.depends_on}
                    for s in missing]
    wanted = [runbook_doc(s, kind) for s in ESTATE for kind in DrillKind.values
              if default_cadence_months(s.tier, kind)]
    have = set(Runbook.objects.filter(slug__in=[d["slug"] for d in wanted]).values_list("slug", flat=True))
    docs_runbooks = [d for d in wanted if d["slug"] not in have]
    if docs_systems or docs_runbooks:
        document = yaml.safe_dump({"systems": docs_systems, "runbooks": docs_runbooks}, sort_keys=False)
        import_runbooks(sources=[("demo estate (sample data)", document)])
    report.systems_created = [s.slug for s in missing]
    report.runbooks_created = [d["slug"] for d in docs_runbooks]
    if history:
        report.sample_drills = generate_history(today=today, seed=seed)
    if subscriptions and (report.systems_created or report.sample_drills):
        # Only when the estate is first created: a plan someone emptied stays empty.
        report.subscriptions_created = _demo_subscriptions()
    return report


def generate_history(*, today: date, seed: int = 2026, systems: list[EstateSystem] | None = None) -> int:
    """Two years of sample drills for each estate system that has no sample history yet."""
    rng = random.Random(seed)
    user = _sample_user()
    by_slug = {s.slug: s for s in System.objects.filter(slug__in=[e.slug for e in (systems or ESTATE)])}
    drilled = set(Drill.objects.filter(sample=True, system__in=by_slug.values()).values_list("system__slug", flat=True))
    start = add_months(today, -HISTORY_MONTHS)
    created = 0
    for estate in systems or ESTATE:
        system = by_slug.get(estate.slug)
        if system is None or estate.slug in drilled:
            continue
        with transaction.atomic():
            for kind in DrillKind.values:
                months = default_cadence_months(estate.tier, kind)
                if not months:
                    continue
                runbook = Runbook.objects.filter(slug=f"{estate.slug}-{KIND_SLUGS[kind]}").first()
                version = runbook.latest_version if runbook else None
                if version is None or (kind != DrillKind.TABLETOP and estate.rto_curve is None):
                    continue
                stop = add_months(today, -estate.lapsed[kind]) if kind in estate.lapsed else today
                day = start + timedelta(days=rng.randint(0, 20))
                while day < stop:
                    created += _sample_drill(estate, system, version, kind, day, start, today, rng, user)
                    day = add_months(day, months) + timedelta(days=rng.randint(-4, 4))
    return created


def _curve_at(curve: list[float], day: date, start: date, today: date) -> float:
    """Linear between the curve's points, spread evenly over the history."""
    span = max((today - start).days, 1)
    x = (day - start).days / span * (len(curve) - 1)
    low = min(int(x), len(curve) - 2)
    return curve[low] + (curve[low + 1] - curve[low]) * (x - low)


def _sample_drill(estate: EstateSystem, system: System, version: Any, kind: str, day: date, start: date, today: date,
                  rng: random.Random, user: Any) -> int:
    # Off-hours, as the handbook asks of a full failover; other drills in working hours.
    hour = 2 if kind == DrillKind.FULL_FAILOVER else rng.choice([9, 10, 13, 14, 15])
    started = timezone.make_aware(datetime.combine(day, time(hour, rng.randint(0, 59))))
    failed = kind != DrillKind.TABLETOP and rng.random() < 0.08
    measured = kind != DrillKind.TABLETOP and estate.rto_curve is not None and not failed
    rto = rpo = None
    if measured:
        rto_factor, rpo_factor = KIND_FACTORS[kind]
        rto = round(_curve_at(estate.rto_curve, day, start, today) * rto_factor * rng.uniform(0.88, 1.12))
        rpo = round(_curve_at(estate.rpo_curve, day, start, today) * rpo_factor * rng.uniform(0.85, 1.15))
    duration = timedelta(seconds=(rto or 40 * MIN) + 15 * MIN)
    finished = started + duration
    status = Drill.Status.FAILED if failed else Drill.Status.SUCCEEDED
    outcome = ("Sample data: step 3 “Recover” failed." if failed else "Sample data: every step succeeded.")
    drill = Drill.objects.create(runbook_version=version, system=system, kind=kind, mode=Drill.Mode.LIVE, status=status,
                                 started_by=user, started_at=started, finished_at=finished, outcome=outcome, sample=True)
    steps = list(version.steps.order_by("position"))
    outage = started + timedelta(minutes=5)
    restored = outage + timedelta(seconds=rto or 30 * MIN)
    runs = []
    for step in steps:
        at = {1: started, 2: outage, 3: outage, 4: restored}.get(step.position, started)
        status_of = StepRun.Status.FAILED if failed and step.position == 3 else (
            StepRun.Status.CANCELLED if failed and step.position > 3 else StepRun.Status.SUCCEEDED)
        marks = ({m: (outage if m == "outage_start" else restored).isoformat() for m in step.marks}
                 if status_of == StepRun.Status.SUCCEEDED else {})
        evidence: dict[str, Any] = {"sample": True}
        # The last step of a drill that went well closes it as its kind does: a failover fails back,
        # a restore verifies the restored data (what the control catalogue looks for).
        if status_of == StepRun.Status.SUCCEEDED and step.position == len(steps) and measured:
            if kind in (DrillKind.PARTIAL_FAILOVER, DrillKind.FULL_FAILOVER):
                marks["failback_complete"] = finished.isoformat()
            elif kind == DrillKind.BACKUP_RESTORE:
                evidence.update(verified="the restored copy", tables=["sample"])
        runs.append(StepRun(drill=drill, step=step, position=step.position, status=status_of, attempt=1,
                            started_at=at, finished_at=at + timedelta(seconds=30), worker="sample-data",
                            evidence=evidence, marks=marks))
    StepRun.objects.bulk_create(runs)
    DrillEvent.objects.bulk_create([
        DrillEvent(drill=drill, at=started, kind="drill.started", message="Sample data: a generated drill started.",
                   data={"sample": True}),
        DrillEvent(drill=drill, at=finished, kind="drill.failed" if failed else "drill.succeeded",
                   message=f"Sample data: {outcome}", data={"sample": True}),
    ])
    if measured:
        evidence = {"sample": True, "generated_by": "demo/estate.py", "outage_start": outage.isoformat(),
                    "service_restored": restored.isoformat(), "clock": "generated"}
        Measurement.objects.bulk_create([
            Measurement(drill=drill, kind="rto", value_seconds=rto, error_bound_seconds=None, target_seconds=estate.rto,
                        met=rto <= estate.rto, method="sample data (generated)", evidence=evidence),
            Measurement(drill=drill, kind="rpo", value_seconds=rpo, target_seconds=estate.rpo, met=rpo <= estate.rpo,
                        method="sample data (generated)", evidence=evidence),
        ])
    return 1


def _sample_user() -> Any:
    users = get_user_model().objects
    user = users.filter(username=SAMPLE_USER).first()
    if user is None:
        # Starts nothing and cannot sign in: it only names who "ran" the generated drills.
        user = users.create_user(SAMPLE_USER, password=None, first_name="Sample", last_name="data", is_active=False)
    return user


def _demo_subscriptions() -> int:
    """The handbook's communication plan for the demo: the DR team told of everything by e-mail (the
    embedded run prints e-mail in the worker's log). Never added to a plan that has lines."""
    if Subscription.objects.exists():
        return 0
    Subscription.objects.create(name="DR team (demo)", channel=Subscription.Channel.EMAIL,
                                address="dr-team@example.com", events=list(DEFAULT_EVENTS), update_minutes=30)
    return 1

