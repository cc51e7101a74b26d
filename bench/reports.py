"""Time of the quarterly DR report at 2,000 systems with eight quarters of history (a monthly backup
restore, a quarterly partial and a yearly full failover per system, each with its RTO and RPO:
about 100,000 drills and 200,000 figures), on PostgreSQL: the report page through Django's test
client (the full middleware stack, view, queries and template), its CSV, and the computation alone.
Target: the page under a second.

    .venv/bin/python -m bench.reports

The data is generated once into the bench database and kept (``--regenerate`` starts over).
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import timedelta
from typing import Any

from bench.harness import arguments, configure, machine, percentile, superuser

SYSTEMS = 2_000
QUARTERS = 8
TARGET_MS = 1000.0
BATCH = 5_000


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0], brokers=False)
    parser.add_argument("--requests", type=int, default=10, help="timed requests (default 10)")
    parser.add_argument("--regenerate", action="store_true", help="delete the generated data and generate it again")
    options = parser.parse_args()
    configure("reports", options, DRDRILL_ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
    user = superuser()
    from programme.quarters import Quarter

    quarter = Quarter.current().previous()
    if options.regenerate:
        delete_generated()
    if not generated():
        started = time.monotonic()
        generate(user, quarter)
        print(f"generated the data in {time.monotonic() - started:.0f} s")
    print(f"quarterly report on {machine()}")
    print(f"data: {counts()}")

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from programme.report import quarterly_report

    client = Client()
    client.force_login(user)
    results = {}
    for name, run in (("report computed", lambda: quarterly_report(quarter)),
                      (f"page /reports/{quarter}/", lambda: client.get(f"/reports/{quarter}/")),
                      (f"CSV /reports/{quarter}/report.csv", lambda: client.get(f"/reports/{quarter}/report.csv"))):
        run()
        timings = []
        for _ in range(options.requests):
            started = time.perf_counter()
            run()
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            run()
        results[name] = (percentile(timings, 50), percentile(timings, 95), len(captured.captured_queries))
        print(f"{name:44} p50 {results[name][0]:7.0f} ms  p95 {results[name][1]:7.0f} ms  {results[name][2]:3d} queries")
    page_p95 = results[f"page /reports/{quarter}/"][1]
    verdict = "meets" if page_p95 <= TARGET_MS else "MISSES"
    print(f"SUMMARY reports [postgresql, {SYSTEMS:,} systems, {QUARTERS} quarters]: the report page p95 "
          f"{page_p95:.0f} ms, {verdict} the {TARGET_MS:.0f} ms target")
    return 0


def generated() -> bool:
    from runbooks.models import System

    return System.objects.filter(slug__startswith="rep-").count() == SYSTEMS


def counts() -> str:
    from drills.models import Drill, Measurement
    from runbooks.models import System

    return f"{System.objects.count():,} systems, {Drill.objects.count():,} drills, {Measurement.objects.count():,} measurements"


def delete_generated() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""TRUNCATE drills_drillevent, drills_measurement, drills_steprun, drills_approval,
                          drills_drill, runbooks_step, runbooks_runbookversion, runbooks_runbook,
                          runbooks_system_dependencies, runbooks_system CASCADE""")


def generate(user: Any, quarter: Any) -> None:
    """Bulk inserts: per system a runbook per kind and eight quarters of drills with their figures."""
    from django.db import transaction

    from drills.models import Drill, Measurement
    from runbooks.models import DrillKind, Runbook, RunbookVersion, System

    rng = random.Random(11)
    start = quarter.last(QUARTERS)[0].starts_at
    end = quarter.ends_at
    tiers_rto = [1800, 7200, 8 * 3600, 24 * 3600, 96 * 3600]
    tiers_rpo = [300, 1800, 4 * 3600, 24 * 3600, 48 * 3600]
    with transaction.atomic():
        systems = System.objects.bulk_create(
            [System(slug=f"rep-{i:04d}", name=f"Service {i:04d}", owner=f"team-{i % 40:02d}", tier=i % 5,
                    rto_target_seconds=tiers_rto[i % 5], rpo_target_seconds=tiers_rpo[i % 5])
             for i in range(SYSTEMS)], batch_size=BATCH)
        kinds = [DrillKind.BACKUP_RESTORE, DrillKind.PARTIAL_FAILOVER, DrillKind.FULL_FAILOVER, DrillKind.TABLETOP]
        runbooks = Runbook.objects.bulk_create(
            [Runbook(slug=f"{s.slug}-{k}", title=f"{s.name} {k}", system=s, kind=k) for s in systems for k in kinds],
            batch_size=BATCH)
        versions = RunbookVersion.objects.bulk_create(
            [RunbookVersion(runbook=r, number=1, spec={"generated": True}, source_name="bench/reports.py",
                            content_hash=hashlib.sha256(r.slug.encode()).hexdigest(), created_by=user)
             for r in runbooks], batch_size=BATCH)
    version_of = {(v.runbook.system_id, v.runbook.kind): v for v in versions}
    every = {DrillKind.BACKUP_RESTORE: 30, DrillKind.PARTIAL_FAILOVER: 91, DrillKind.FULL_FAILOVER: 365,
             DrillKind.TABLETOP: 91}
    for chunk in range(0, SYSTEMS, 200):
        with transaction.atomic():
            drills = []
            for system in systems[chunk:chunk + 200]:
                for kind, days in every.items():
                    at = start + timedelta(days=rng.randint(0, days - 1), hours=rng.randint(0, 23))
                    while at < end:
                        drills.append(Drill(runbook_version=version_of[(system.pk, kind)], system=system, kind=kind,
                                            mode="live", status="succeeded", started_by=user, started_at=at,
                                            finished_at=at + timedelta(hours=1), sample=True))
                        at += timedelta(days=days)
            drills = Drill.objects.bulk_create(drills, batch_size=BATCH)
            Measurement.objects.bulk_create(
                [Measurement(drill=d, kind=k, value_seconds=target * rng.uniform(0.5, 1.3), target_seconds=target,
                             met=None, method="bench", evidence={})
                 for d in drills if d.kind != DrillKind.TABLETOP
                 for k, target in (("rto", d.system.rto_target_seconds), ("rpo", d.system.rpo_target_seconds))],
                batch_size=BATCH)


if __name__ == "__main__":
    raise SystemExit(main())
