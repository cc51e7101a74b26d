"""How close the measured RTO is to the truth: 20 live drills against a local HTTP service that the
drill itself takes down for a random, known time.

Each drill has two steps: ``http.request`` to the service's /fault endpoint (marks outage_start)
and ``http.wait_healthy`` (marks service_restored). The service notes, on its own clock, when it
went down and when it came back; that difference is the truth. The measured RTO should be within
one probe interval of it (the probe cannot see the service come back before its next probe).

Then the canary: drills whose canary writes into a SQLite file every ``--canary-interval`` seconds
while a step waits; the gaps between consecutive canary rows, as distributed, against twice the
interval (the RPO's bound is taken from the gaps observed, so uneven writing widens it).

    .venv/bin/python -m bench.measurement_accuracy --broker redis
"""

from __future__ import annotations

import random
from pathlib import Path

from bench.harness import arguments, configure, machine, percentile, start_workers, stop_workers, superuser, wait_for


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--drills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25, help="probe interval in seconds (default 0.25)")
    parser.add_argument("--consecutive", type=int, default=2, help="successes in a row that count as restored")
    parser.add_argument("--min-outage", type=float, default=1.0)
    parser.add_argument("--max-outage", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed; default: a fresh one)")
    parser.add_argument("--canary-drills", type=int, default=3)
    parser.add_argument("--canary-interval", type=float, default=0.5)
    parser.add_argument("--canary-seconds", type=float, default=15.0, help="how long each canary drill writes")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    env = configure("accuracy", options)
    workers = start_workers(1, concurrency=3, env=env, label="accuracy")

    from tests.support.http_service import ControlledService

    service = ControlledService()
    service.start()
    try:
        print(f"measurement_accuracy on {machine()}; probe every {options.interval} s, {options.consecutive} successes "
              f"in a row; outages uniform in [{options.min_outage}, {options.max_outage}] s, seed {seed}")
        print(f"{'drill':>6} {'outage (truth) s':>17} {'measured RTO s':>15} {'error ms':>9} {'bound ms':>9} "
              f"{'truth in bound':>15} {'within 1 interval':>18}")
        user = superuser()
        errors: list[float] = []
        within = 0
        for n in range(options.drills):
            outage = round(rng.uniform(options.min_outage, options.max_outage), 3)
            drill_id, measured, bound = run_drill(user, service, outage, options.interval, options.consecutive)
            truth = service.up_at - service.down_at
            error = measured - truth
            errors.append(error)
            ok = abs(error) <= options.interval
            within += ok
            in_bound = measured - bound - 0.005 <= truth <= measured + 0.005
            print(f"{drill_id:>6} {truth:17.3f} {measured:15.3f} {1000 * error:9.1f} {1000 * bound:9.1f} "
                  f"{'yes' if in_bound else 'NO':>15} {'yes' if ok else 'NO':>18}")
        magnitudes = [abs(e) for e in errors]
        print(f"error: mean {1000 * sum(errors) / len(errors):.1f} ms, |error| p50 {1000 * percentile(magnitudes, 50):.1f} ms, "
              f"p95 {1000 * percentile(magnitudes, 95):.1f} ms, max {1000 * max(magnitudes):.1f} ms")
        verdict = "meets" if within == len(errors) else "MISSES"
        gaps = canary_gaps(user, options.canary_drills, options.canary_interval, options.canary_seconds,
                           Path(env["DRDRILL_DATA_DIR"]))
        limit = 2 * options.canary_interval
        over = [g for g in gaps if g > limit]
        print(f"canary gaps ({len(gaps)} between rows written every {options.canary_interval} s): "
              f"p50 {1000 * percentile(gaps, 50):.0f} ms, p95 {1000 * percentile(gaps, 95):.0f} ms, "
              f"p99 {1000 * percentile(gaps, 99):.0f} ms, max {1000 * max(gaps):.0f} ms; over 2× the interval: {len(over)}")
        for low, high in ((0, 0.75), (0.75, 1.0), (1.0, 1.25), (1.25, 1.5), (1.5, 2.0), (2.0, None)):
            count = sum(1 for g in gaps if g >= low * options.canary_interval and (high is None or g < high * options.canary_interval))
            label = f"{low:.2f}–{high:.2f}×" if high else f"≥ {low:.2f}×"
            print(f"    {label:>11} the interval: {count}")
        print(f"SUMMARY measurement_accuracy [{env['CELERY_BROKER_URL'].split(':')[0]}]: {within}/{len(errors)} measured "
              f"RTOs within one probe interval ({1000 * options.interval:.0f} ms) of the truth; max error "
              f"{1000 * max(magnitudes):.0f} ms; {verdict} the target; canary max gap {1000 * max(gaps):.0f} ms "
              f"at a {1000 * options.canary_interval:.0f} ms interval ({len(over)} over 2×)")
    finally:
        service.stop()
        stop_workers(workers)
    return 0


def canary_gaps(user: object, drills: int, interval: float, seconds: float, data_dir: Path) -> list[float]:
    from demo.orders_service import create_database
    from drills.models import CanaryWrite, Drill
    from drills.services import drill_start
    from runbooks.models import Runbook
    from runbooks.services import import_runbooks

    # Inside the bench worker's demo area, which a worker with no policy file may write.
    database = data_dir / "demo" / "canary.sqlite3"
    create_database(database)
    import_runbooks(sources=[("canary.yaml", f"""
systems:
  - slug: canary-bench
    name: Canary bench
    environment: staging
    tier: 2
    targets:
      db: {{kind: sqlite, path: "{database}"}}
runbooks:
  - slug: canary-bench
    title: Canary writing while a step waits
    system: canary-bench
    kind: backup_restore
    canary: {{target: db, interval: {interval}}}
    steps:
      - name: Let the canary write
        action: wait
        params: {{seconds: {seconds}}}
""")], user=user)
    gaps: list[float] = []
    for _ in range(drills):
        drill = drill_start(runbook_version=Runbook.objects.get(slug="canary-bench").latest_version, user=user)
        wait_for(lambda: Drill.objects.filter(pk=drill.pk, status__in=Drill.FINISHED).exists(), timeout=seconds + 60,
                 what=f"canary drill {drill.pk}")
        times = list(CanaryWrite.objects.filter(canary__drill=drill).order_by("seq").values_list("written_at", flat=True))
        gaps += [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    return gaps


def run_drill(user: object, service: object, outage: float, interval: float, consecutive: int) -> tuple[int, float, float]:
    from drills.models import Drill
    from drills.services import drill_start
    from runbooks.models import Runbook
    from runbooks.services import import_runbooks

    # A new runbook version per outage length: the length is part of the fault step's URL.
    import_runbooks(sources=[("accuracy.yaml", f"""
systems:
  - slug: accuracy-service
    name: Accuracy service
    environment: staging
    tier: 1
    rto_target: 1m
    rpo_target: 1m
runbooks:
  - slug: accuracy-outage
    title: Outage of known length
    system: accuracy-service
    kind: partial_failover
    steps:
      - name: Take the service down
        action: http.request
        params: {{url: "{service.url}/fault?seconds={outage}", method: POST}}
        marks: [outage_start]
      - name: Wait until healthy
        action: http.wait_healthy
        params: {{url: "{service.url}/health", interval: {interval}, consecutive: {consecutive}}}
        marks: [service_restored]
""")], user=user)
    drill = drill_start(runbook_version=Runbook.objects.get(slug="accuracy-outage").latest_version, user=user)
    wait_for(lambda: Drill.objects.filter(pk=drill.pk, status__in=Drill.FINISHED).exists(), timeout=outage + 60,
             what=f"drill {drill.pk}")
    drill.refresh_from_db()
    if drill.status != Drill.Status.SUCCEEDED:
        raise RuntimeError(f"drill {drill.pk} ended {drill.status}: {drill.outcome}")
    wait_for(lambda: drill.measurements.filter(kind="rto").exists(), timeout=30, what="the RTO measurement")
    rto = drill.measurements.get(kind="rto")
    return drill.pk, rto.value_seconds, rto.error_bound_seconds


if __name__ == "__main__":
    raise SystemExit(main())
