"""A page asks the database the same number of times whatever the amount of data: each page is
rendered over a small world, then again after a world ten times larger has been added beside it.
A query count that grows with the data (an N+1) fails here long before a large installation
notices it as a slow page; bench/pages.py measures the same pages at full scale."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import yaml
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drills.models import Drill, DrillEvent, Measurement, StepRun
from drills.progress import drill_progress
from programme.quarters import Quarter
from runbooks.models import Runbook, RunbookVersion, System
from runbooks.services import import_runbooks

SMALL, LARGE = 3, 30


@dataclass
class World:
    system: System
    runbook: Runbook
    running: Drill  # live, with a step run per step, some done, and a timeline
    tabletop: Drill  # being walked, some items done


def build_world(prefix: str, size: int, user: Any) -> World:
    """``size`` systems with a runbook of ``size`` steps each; the first system has ``size``
    versions of its runbook, ``size`` finished drills (every status and mode) and a running drill;
    every other system has one finished live drill."""
    systems = [{"slug": f"{prefix}-system-{i}", "name": f"{prefix} system {i}", "owner": "platform team",
                "tier": i % 5, "depends_on": [f"{prefix}-system-{i - 1}"] if i else [],
                "targets": {"web": {"kind": "http", "url": f"http://127.0.0.1:9/{prefix}/{i}"}}}
               for i in range(size)]
    runbooks = [runbook_doc(prefix, i, size) for i in range(size)]
    import_runbooks(sources=[(f"{prefix}.yaml", yaml.safe_dump({"systems": systems, "runbooks": runbooks}))], user=user)
    for version in range(2, size + 1):
        changed = runbook_doc(prefix, 0, size, description=f"Revision {version}")
        import_runbooks(sources=[(f"{prefix}-v{version}.yaml", yaml.safe_dump({"runbooks": [changed]}))], user=user)

    latest = {}
    for version in RunbookVersion.objects.filter(runbook__slug__startswith=f"{prefix}-").select_related("runbook").order_by("number"):
        latest[version.runbook.system_id] = version
    first = System.objects.get(slug=f"{prefix}-system-0")
    for system_id, version in latest.items():
        for n in range(size if system_id == first.pk else 1):
            status, mode = HISTORY[n % len(HISTORY)]
            add_drill(version, user, status=status, mode=mode, age_days=n + 1)
    running = add_drill(latest[first.pk], user, status=Drill.Status.RUNNING, mode=Drill.Mode.LIVE, age_days=0)
    add_programme(prefix, latest, running, user)
    tabletop = add_drill(latest[first.pk], user, status=Drill.Status.WALKING, mode=Drill.Mode.TABLETOP, age_days=0)
    return World(first, Runbook.objects.get(slug=f"{prefix}-runbook-0"), running, tabletop)


def add_programme(prefix: str, latest: dict[int, RunbookVersion], running: Drill, user: Any) -> None:
    """The programme's rows grow with the world too: a planned drill and a subscription per system,
    and a message per subscription about the running drill."""
    from programme.models import Delivery, PlannedDrill, Subscription

    for system_id, version in latest.items():
        PlannedDrill.objects.create(runbook_version=version, system_id=system_id, kind=version.runbook.kind,
                                    scheduled_at=timezone.now() + timedelta(days=3), planned_by=user)
        subscription = Subscription.objects.create(name=f"{prefix} team {system_id}", system_id=system_id,
                                                   channel="email", address="team@example.com", events=["started"])
        Delivery.objects.create(subscription=subscription, drill=running, event="started", key=f"event:{system_id}",
                                subject="Drill started", body="started")


HISTORY = [(Drill.Status.SUCCEEDED, Drill.Mode.LIVE), (Drill.Status.FAILED, Drill.Mode.LIVE),
           (Drill.Status.SUCCEEDED, Drill.Mode.DRY_RUN), (Drill.Status.ABORTED, Drill.Mode.LIVE)]


def runbook_doc(prefix: str, i: int, size: int, description: str = "") -> dict[str, Any]:
    steps = [{"name": f"Step {k}", "action": "wait", "params": {"seconds": 1}} for k in range(size)]
    steps[0]["marks"] = ["outage_start"]
    steps[-1]["marks"] = ["service_restored"]
    return {"slug": f"{prefix}-runbook-{i}", "title": f"{prefix} runbook {i}", "system": f"{prefix}-system-{i}",
            "kind": "full_failover", "description": description, "steps": steps}


def add_drill(version: RunbookVersion, user: Any, *, status: str, mode: str, age_days: int) -> Drill:
    started = timezone.now() - timedelta(days=age_days)
    finished = started + timedelta(minutes=10) if status in Drill.FINISHED else None
    drill = Drill.objects.create(runbook_version=version, system=version.runbook.system, kind=version.runbook.kind,
                                 mode=mode, status=status, started_by=user, started_at=started, finished_at=finished,
                                 outcome="" if finished is None else f"Drill {status}.")
    steps = list(version.steps.order_by("position"))
    runs = StepRun.objects.bulk_create(
        StepRun(drill=drill, step=step, position=step.position, attempt=1, worker="bench:1",
                status=step_status(status, index, len(steps)), started_at=started + timedelta(seconds=index),
                finished_at=started + timedelta(seconds=index + 1), evidence={"waited_until": started.isoformat()},
                marks={mark: (started + timedelta(seconds=index + 1)).isoformat() for mark in step.marks})
        for index, step in enumerate(steps))
    events = [DrillEvent(drill=drill, at=started, kind="drill.started", message="Live drill started.")]
    for run in runs:
        events.append(DrillEvent(drill=drill, step_run=run, at=run.started_at, kind="step.started", message="started"))
        events.append(DrillEvent(drill=drill, step_run=run, at=run.finished_at, kind="step.succeeded", message="done"))
    DrillEvent.objects.bulk_create(events)
    if finished and mode == Drill.Mode.LIVE:
        for kind, value in (("rto", 600.0), ("rpo", 30.0)):
            Measurement.objects.create(drill=drill, kind=kind, value_seconds=value, error_bound_seconds=0.5,
                                       target_seconds=900, met=True, method="step marks",
                                       evidence={"phases_seconds": {"people": 0, "recover": value, "verify": 0,
                                                                    "orchestration": 0}})
    return drill


def step_status(drill_status: str, index: int, count: int) -> str:
    if drill_status == Drill.Status.WALKING:
        return StepRun.Status.SUCCEEDED if index < count // 2 else StepRun.Status.PENDING
    if drill_status == Drill.Status.RUNNING:
        return (StepRun.Status.SUCCEEDED if index < count // 2 else
                StepRun.Status.RUNNING if index == count // 2 else StepRun.Status.PENDING)
    if drill_status == Drill.Status.FAILED and index == count - 1:
        return StepRun.Status.FAILED
    if drill_status == Drill.Status.ABORTED and index == count - 1:
        return StepRun.Status.CANCELLED
    return StepRun.Status.SUCCEEDED


PAGES: dict[str, Callable[[World], str]] = {
    "dashboard": lambda w: "/",
    "systems": lambda w: "/systems/",
    "system": lambda w: w.system.get_absolute_url(),
    "runbooks": lambda w: "/runbooks/",
    "runbook": lambda w: w.runbook.get_absolute_url(),
    "drills": lambda w: "/drills/",
    "drill": lambda w: w.running.get_absolute_url(),
    "live drill polling": lambda w: f"/drills/{w.running.pk}/progress/",
    "live drill polling, nothing new": lambda w: f"/drills/{w.running.pk}/progress/?seen={drill_progress(w.running.pk).fingerprint}",
    "business impact analysis": lambda w: "/programme/bia/",
    "cadence": lambda w: "/programme/cadence/",
    "calendar": lambda w: "/programme/calendar/",
    "calendar feed": lambda w: "/programme/calendar.ics",
    "reports": lambda w: "/reports/",
    "quarterly report": lambda w: f"/reports/{Quarter.current()}/",
    "quarterly report csv": lambda w: f"/reports/{Quarter.current()}/report.csv",
    "notifications": lambda w: "/programme/notifications/",
    "drill notifications": lambda w: f"/programme/drills/{w.running.pk}/notifications/",
    "tabletop": lambda w: w.tabletop.get_absolute_url(),
    "tabletop polling": lambda w: f"/drills/{w.tabletop.pk}/walkthrough/",
    "review panel": lambda w: f"/reviews/drills/{w.running.pk}/",
    "report": lambda w: f"/reviews/drills/{w.running.pk}/report/",
    "action items": lambda w: "/reviews/actions/",
    "system's open action items": lambda w: f"/reviews/actions/open/?system={w.system.slug}",
}


def queries_of(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers={"HX-Request": "true"} if "/progress/" in url or "/walkthrough/" in url else {})
    assert response.status_code in (200, 204), (url, response.status_code)
    return [query["sql"] for query in captured.captured_queries]


def shapes(queries: list[str]) -> Counter[str]:
    """Queries with their literals taken out, so a loop of one query shows up as one shape."""
    return Counter(re.sub(r"^SELECT .*? FROM", "SELECT … FROM", re.sub(r"\b\d+\b|'[^']*'", "?", sql))[:300]
                   for sql in queries)


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_a_page_asks_the_same_number_of_queries_with_ten_times_the_data(client: Client, coordinator, page: str):
    client.force_login(coordinator)
    small = build_world("small", SMALL, coordinator)
    url = PAGES[page](small)
    # The first request fills per-process caches (content types, the session) and does a page's
    # one-time writes (a tabletop viewer's presence row, a drill's checklist copy).
    client.get(url)
    few = queries_of(client, url)

    large = build_world("large", LARGE, coordinator)
    client.get(PAGES[page](large))
    many = queries_of(client, PAGES[page](large))

    grown = {shape: count for shape, count in (shapes(many) - shapes(few)).items()}
    assert len(many) == len(few), f"{page}: {len(few)} queries with the small world, {len(many)} with the large; grew: {grown}"
