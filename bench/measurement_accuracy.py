"""How close the measured RTO is to the truth: 20 live drills against a local HTTP service that the
drill itself takes down for a random, known time.

Each drill has two steps: ``http.request`` to the service's /fault endpoint (marks outage_start)
and ``http.wait_healthy`` (marks service_restored). The service notes, on its own clock, when it
went down and when it came back; that difference is the truth. The measured RTO should be within
one probe interval of it (the probe cannot see the service come back before its next probe).

    .venv/bin/python -m bench.measurement_accuracy --broker redis
"""

from __future__ import annotations

import random

from bench.harness import arguments, configure, machine, percentile, start_workers, stop_workers, superuser, wait_for


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--drills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25, help="probe interval in seconds (default 0.25)")
    parser.add_argument("--consecutive", type=int, default=2, help="successes in a row that count as restored")
    parser.add_argument("--min-outage", type=float, default=1.0)
    parser.add_argument("--max-outage", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed; default: a fresh one)")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    env = configure("accuracy", options)
    workers = start_workers(1, concurrency=3, env=env, label="accuracy")

    from tests.http_service import ControlledService

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
        print(f"SUMMARY measurement_accuracy [{env['CELERY_BROKER_URL'].split(':')[0]}]: {within}/{len(errors)} measured "
              f"RTOs within one probe interval ({1000 * options.interval:.0f} ms) of the truth; max error "
              f"{1000 * max(magnitudes):.0f} ms; {verdict} the target")
    finally:
        service.stop()
        stop_workers(workers)
    return 0


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
