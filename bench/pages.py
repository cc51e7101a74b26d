"""Server time and SQL query count of each page at the scale of a large company: 2,000 systems,
20,000 drills, 400,000 step runs (and their 840,000 timeline events), on PostgreSQL.

The data is generated once with bulk inserts into the bench database and kept for later runs
(``--regenerate`` starts over). Each page is requested through Django's test client — the full
middleware stack, view, queries and template, without a network — a few times to warm up and then
``--requests`` times; the query count comes from one more request under CaptureQueriesContext.

    .venv/bin/python -m bench.pages

Add a page to PAGES when the app gets one.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.harness import arguments, configure, machine, percentile, superuser

SYSTEMS = 2_000
DRILLS_PER_SYSTEM = 10
STEPS_PER_RUNBOOK = 20
TARGET_P95_MS = 150.0
BATCH = 5_000


@dataclass
class Scene:
    """The objects the pages are requested for."""

    system_slug: str
    runbook_slug: str
    running_drill: int
    finished_drill: int


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0], brokers=False)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--regenerate", action="store_true", help="delete the generated data and generate it again")
    options = parser.parse_args()
    if options.database != "postgres":
        parser.error("the pages are measured on PostgreSQL, the production database")
    configure("pages", options, DRDRILL_ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
    user = superuser()
    if options.regenerate:
        delete_generated()
    if not generated():
        started = time.monotonic()
        generate(user)
        print(f"generated the data in {time.monotonic() - started:.0f} s")
    scene = find_scene()
    print(f"pages on {machine()}")
    print(f"data: {counts()}")

    from django.test import Client

    client = Client()
    client.force_login(user)
    results = []
    print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8} {'KiB':>6}")
    for name, url in pages(scene):
        timings, queries, size, status = measure(client, url, options.requests)
        results.append((name, percentile(timings, 95), queries))
        print(f"{name:44} {percentile(timings, 50):8.1f} {percentile(timings, 95):8.1f} {max(timings):8.1f} "
              f"{queries:8d} {size / 1024:6.0f}" + ("" if status in (200, 204) else f"  HTTP {status}"))
    slow = [(name, p95) for name, p95, _ in results if p95 > TARGET_P95_MS]
    worst = max(results, key=lambda r: r[1])
    verdict = "all meet" if not slow else f"{len(slow)} MISS ({', '.join(name for name, _ in slow)})"
    print(f"SUMMARY pages [postgresql, {SYSTEMS:,} systems / {SYSTEMS * DRILLS_PER_SYSTEM:,} drills / "
          f"{SYSTEMS * DRILLS_PER_SYSTEM * STEPS_PER_RUNBOOK:,} step runs]: {len(results)} pages, {verdict} the "
          f"p95 ≤ {TARGET_P95_MS:.0f} ms target; slowest {worst[0]} at p95 {worst[1]:.0f} ms")
    return 0


def pages(scene: Scene) -> list[tuple[str, str]]:
    from django.urls import NoReverseMatch, reverse

    from drills.progress import drill_progress

    fingerprint = drill_progress(scene.running_drill).fingerprint
    listed = [
        ("dashboard /", "/"),
        ("systems list /systems/", "/systems/"),
        ("system page /systems/<slug>/", f"/systems/{scene.system_slug}/"),
        ("runbooks list /runbooks/", "/runbooks/"),
        ("runbook page /runbooks/<slug>/", f"/runbooks/{scene.runbook_slug}/"),
        ("drill history /drills/", "/drills/"),
        ("live drill page /drills/<pk>/", f"/drills/{scene.running_drill}/"),
        ("finished drill page /drills/<pk>/", f"/drills/{scene.finished_drill}/"),
        ("live polling /drills/<pk>/progress/", f"/drills/{scene.running_drill}/progress/"),
        ("live polling, nothing new (204)", f"/drills/{scene.running_drill}/progress/?seen={fingerprint}"),
    ]
    try:
        listed.append(("audit trail /audit/", reverse("audit:audit_list")))
    except NoReverseMatch:
        pass
    return listed


def measure(client: Any, url: str, requests: int) -> tuple[list[float], int, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HX-Request": "true"} if "/progress/" in url else {}
    for _ in range(3):
        client.get(url, headers=headers)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    return timings, len(captured.captured_queries), len(response.content), response.status_code


# --- the generated data ----------------------------------------------------------------------------

def generated() -> bool:
    from drills.models import StepRun
    from runbooks.models import System

    return (System.objects.filter(slug__startswith="gen-").count() == SYSTEMS
            and StepRun.objects.filter(drill__system__slug="gen-0001").exists())


def counts() -> str:
    from drills.models import Drill, DrillEvent, Measurement, StepRun
    from runbooks.models import Runbook, Step, System

    def n(model: Any) -> str:
        return f"{model.objects.count():,}"

    return (f"{n(System)} systems, {n(Runbook)} runbooks, {n(Step)} steps, {n(Drill)} drills, {n(StepRun)} step runs, "
            f"{n(DrillEvent)} events, {n(Measurement)} measurements")


def delete_generated() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            TRUNCATE drills_drillevent, drills_measurement, drills_steprun, drills_approval, drills_canarywrite,
                     drills_canaryrun, drills_drill, runbooks_step, runbooks_runbookversion, runbooks_runbook,
                     runbooks_system_dependencies, runbooks_system CASCADE""")


def generate(user: Any) -> None:
    """Bulk inserts, in one transaction per table family; a drill's rows look like a real drill's."""
    from django.db import connection, transaction

    from drills.models import Drill, DrillEvent, Measurement, StepRun
    from runbooks.models import DrillKind, Runbook, RunbookVersion, Step, System

    rng = random.Random(5)
    now = datetime.now(timezone.utc)
    with transaction.atomic():
        systems = System.objects.bulk_create(
            [System(slug=f"gen-{i:04d}", name=f"Service {i:04d}", owner=f"team-{i % 40:02d}", tier=i % 5,
                    environment="production" if i % 3 else "staging", description=f"Generated system {i}.",
                    rto_target_seconds=[3600, 14400, 86400, 259200, 604800][i % 5],
                    rpo_target_seconds=[300, 3600, 14400, 86400, 604800][i % 5],
                    targets={"web": {"kind": "http", "url": f"https://service-{i:04d}.example.internal"}})
             for i in range(1, SYSTEMS + 1)], batch_size=BATCH)
        through = System.dependencies.through
        through.objects.bulk_create(
            [through(from_system_id=s.pk, to_system_id=systems[(i + k) % SYSTEMS].pk)
             for i, s in enumerate(systems) for k in (1, 7)], batch_size=BATCH)
        runbooks = Runbook.objects.bulk_create(
            [Runbook(slug=f"gen-{s.slug[4:]}-failover", title=f"{s.name} failover", system=s,
                     kind=DrillKind.FULL_FAILOVER) for s in systems], batch_size=BATCH)
        versions = RunbookVersion.objects.bulk_create(
            [RunbookVersion(runbook=r, number=1, spec={"generated": True}, source_name="bench/pages.py",
                            content_hash=hashlib.sha256(r.slug.encode()).hexdigest(), created_by=user)
             for r in runbooks], batch_size=BATCH)
        Step.objects.bulk_create(
            [step_of(v, k, systems[i]) for i, v in enumerate(versions) for k in range(STEPS_PER_RUNBOOK)],
            batch_size=BATCH)
    steps_by_version: dict[int, list[Step]] = {}
    for step in Step.objects.filter(version__in=versions).order_by("version_id", "position"):
        steps_by_version.setdefault(step.version_id, []).append(step)

    for chunk_start in range(0, SYSTEMS, 100):
        with transaction.atomic():
            drills: list[Drill] = []
            for i in range(chunk_start, min(chunk_start + 100, SYSTEMS)):
                for n in range(DRILLS_PER_SYSTEM):
                    started = now - timedelta(days=7 * (DRILLS_PER_SYSTEM - n) + rng.random(), hours=i % 24)
                    status, mode = drill_kind(n, rng)
                    drills.append(Drill(runbook_version=versions[i], system=systems[i], kind=DrillKind.FULL_FAILOVER,
                                        mode=mode, status=status, started_by=user, started_at=started,
                                        finished_at=started + timedelta(minutes=20),
                                        outcome="Every step succeeded or was skipped." if status == "succeeded"
                                        else "Step 12 “Promote the replica” failed: timed out after 600 s"))
            Drill.objects.bulk_create(drills, batch_size=BATCH)
            runs_by_drill, measurements = {}, []
            for drill in drills:
                runs_by_drill[drill.pk] = step_runs(drill, steps_by_version[drill.runbook_version_id])
                if drill.mode == Drill.Mode.LIVE:
                    measurements += [
                        Measurement(drill=drill, kind="rto", value_seconds=900 + rng.random() * 600, error_bound_seconds=1.0,
                                    target_seconds=drill.system.rto_target_seconds, met=True,
                                    method="health probe: service_restored − outage_start",
                                    evidence={"phases_seconds": {"people": 60, "recover": 700, "verify": 140,
                                                                 "orchestration": 0.4}}),
                        Measurement(drill=drill, kind="rpo", value_seconds=rng.random() * 120, error_bound_seconds=5.0,
                                    target_seconds=drill.system.rpo_target_seconds, met=True, lost_rows=3,
                                    method="canary: outage_start − newest canary row surviving in the recovered copy",
                                    evidence={"rows_written_before_outage": 40})]
            StepRun.objects.bulk_create([run for runs in runs_by_drill.values() for run in runs], batch_size=BATCH)
            Measurement.objects.bulk_create(measurements, batch_size=BATCH)
            DrillEvent.objects.bulk_create(
                [event for drill in drills for event in timeline(drill, runs_by_drill[drill.pk])], batch_size=BATCH)
    with connection.cursor() as cursor:
        # created_at is set on insert; a history spread over months orders like a real one.
        cursor.execute("UPDATE drills_drill SET created_at = started_at WHERE started_at IS NOT NULL")
    make_one_drill_running()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def make_one_drill_running() -> None:
    """The newest drill of the first system becomes live and half done: the live page's case."""
    from drills.models import Drill, StepRun

    drill = Drill.objects.filter(system__slug="gen-0001").order_by("-created_at").first()
    Drill.objects.filter(pk=drill.pk).update(status=Drill.Status.RUNNING, mode=Drill.Mode.LIVE, finished_at=None,
                                             outcome="")
    drill.measurements.all().delete()
    StepRun.objects.filter(drill=drill, position__gt=11).update(status=StepRun.Status.PENDING, started_at=None,
                                                                finished_at=None, attempt=0)
    StepRun.objects.filter(drill=drill, position=11).update(status=StepRun.Status.POLLING, finished_at=None)


def find_scene() -> Scene:
    from drills.models import Drill

    running = Drill.objects.filter(system__slug="gen-0001", status=Drill.Status.RUNNING).first()
    finished = (Drill.objects.filter(system__slug="gen-0001", status=Drill.Status.SUCCEEDED, mode=Drill.Mode.LIVE)
                .order_by("-created_at").first())
    return Scene("gen-0001", "gen-0001-failover", running.pk, finished.pk)


STEP_SHAPES: list[tuple[str, str, Callable[[Any], dict[str, Any]]]] = [
    ("Announce the drill", "manual.confirm", lambda s: {"instructions": "Post in #incident that the drill starts"}),
    ("Back up the database", "http.request", lambda s: {"url": s.targets["web"]["url"] + "/backup", "method": "POST"}),
    ("Inject the outage", "http.request", lambda s: {"url": s.targets["web"]["url"] + "/fault", "method": "POST"}),
    ("Let connections drain", "wait", lambda s: {"seconds": 30}),
    ("Wait until healthy", "http.wait_healthy", lambda s: {"url": s.targets["web"]["url"] + "/health", "interval": 1}),
]


def step_of(version: Any, k: int, system: Any) -> Any:
    """Step k of a generated runbook: the shapes of a real failover runbook, in turn."""
    from runbooks.models import Step

    name, action, params = STEP_SHAPES[k % len(STEP_SHAPES)]
    marks = {2: ["outage_start"], STEPS_PER_RUNBOOK - 1: ["service_restored"]}.get(k, [])
    return Step(version=version, position=k + 1, key=f"step-{k + 1}", name=f"{name} ({k + 1})", action=action,
                params=params(system), timeout_seconds=600, retries=1 if k % 4 == 0 else 0, marks=marks)


def drill_kind(n: int, rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.15:
        return "succeeded", "dry_run"
    if roll < 0.25:
        return "failed", "live"
    if roll < 0.28:
        return "aborted", "live"
    return "succeeded", "live"


def step_runs(drill: Any, steps: list[Any]) -> list[Any]:
    from drills.models import StepRun

    runs = []
    for step in steps:
        started = drill.started_at + timedelta(seconds=60 * (step.position - 1))
        runs.append(StepRun(drill=drill, step=step, position=step.position, status="succeeded", attempt=1,
                            phase="run", started_at=started, finished_at=started + timedelta(seconds=45),
                            worker="worker-3.example.internal:4242",
                            evidence={"url": "https://service.example.internal/health", "status": 200,
                                      "response": "ok", "probes": 12, "failures": 9},
                            marks={mark: (started + timedelta(seconds=45)).isoformat() for mark in step.marks}))
    return runs


def timeline(drill: Any, runs: list[Any]) -> list[Any]:
    from drills.models import DrillEvent

    events = [DrillEvent(drill=drill, at=drill.started_at, kind="drill.started", message="Live drill started by bench.")]
    for run in runs:
        events.append(DrillEvent(drill=drill, step_run=run, at=run.started_at, kind="step.started",
                                 message=f"Step {run.position} started (attempt 1) on {run.worker}."))
        events.append(DrillEvent(drill=drill, step_run=run, at=run.finished_at, kind="step.succeeded",
                                 message=f"Step {run.position} succeeded."))
    events.append(DrillEvent(drill=drill, at=drill.finished_at, kind=f"drill.{drill.status}", message="Drill finished."))
    return events


if __name__ == "__main__":
    raise SystemExit(main())
