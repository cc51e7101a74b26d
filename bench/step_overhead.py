"""What the engine adds to every step, against what Celery alone costs, in one run on one broker.

1. The yardsticks: a relay of no-op tasks, each sending the next as its last act — the time from one
   task's start to the next's is Celery's raw round trip (publish, broker, the worker's consumer, a
   pool process, the task starting); and a Celery ``chain`` of as many no-op tasks, what someone
   would write without drdrill.
2. Drills of no-op steps, one drill at a time, so that every step waits on the one before it. A step's
   cycle is the time from its start to the next step's start. Two kinds of no-op step: dry-run steps
   (the action's plan()), which a worker records and continues into in-process, with no message at
   all; and live ``wait`` steps of 1 ms, whose run() returns "poll again": one poll message each, a
   broker hop like every step that polls.

The targets (issue 17): a dry-run step cycle at p50 ≤ 1.5× the raw round trip and p95 ≤ 2×; a live
wait step (one poll hop) ≤ 3×. Run it once per broker:

    .venv/bin/python -m bench.step_overhead --broker redis
    .venv/bin/python -m bench.step_overhead --broker filesystem
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.harness import (
    arguments,
    configure,
    machine,
    percentile,
    start_workers,
    stop_workers,
    summary_ms,
    superuser,
    wait_for,
)

TARGET_RATIO = 1.5
TARGET_P95 = 2.0
TARGET_POLLING = 3.0


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--hops", type=int, default=300, help="no-op relay length (default 300)")
    parser.add_argument("--drills", type=int, default=10, help="drills per kind of step (default 10)")
    parser.add_argument("--steps", type=int, default=20, help="steps per drill (default 20)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes of the worker (default 2)")
    options = parser.parse_args()
    env = configure("step-overhead", options)
    workers = start_workers(1, concurrency=options.concurrency, env=env, label="overhead")
    try:
        print(f"step_overhead on {machine()}")
        round_trips = raw_round_trips(options.hops)
        print(f"raw Celery round trip (no-op relay, {options.hops} hops):  {summary_ms(round_trips)}")
        chained = chain_round_trips(options.hops)
        print(f"Celery chain of {options.hops} no-op tasks, task to task:  {summary_ms(chained)}")
        user = superuser()
        cycles: dict[str, list[float]] = {}
        for mode in ("dry_run", "live"):
            runbook = import_noop_runbook(user, options.steps, mode)
            cycles[mode], edges = step_cycles(runbook, user, mode, options.drills)
            label = ("dry-run no-op steps (continued in-process, no message)" if mode == "dry_run"
                     else "live wait 1 ms steps (one poll message each)")
            print(f"step cycle, {label}:  {summary_ms(cycles[mode])}")
            print(f"    drill start → first step start: {summary_ms(edges['first'])}")
            print(f"    last step end → drill closed:   {summary_ms(edges['last'])}")
        raw = percentile(round_trips, 50)
        print("ratio of the step cycle to the raw round trip (p50 / p95 / p99):")
        for mode, values in cycles.items():
            ratios = [percentile(values, p) / percentile(round_trips, p) for p in (50, 95, 99)]
            to_chain = percentile(values, 50) / percentile(chained, 50)
            print(f"    {mode:8}  {ratios[0]:.2f}×  {ratios[1]:.2f}×  {ratios[2]:.2f}×   "
                  f"engine's own share at p50: {1000 * (percentile(values, 50) - raw):.2f} ms; "
                  f"against the chain at p50: {to_chain:.2f}×")
        ratio = percentile(cycles["dry_run"], 50) / raw
        p95 = percentile(cycles["dry_run"], 95) / percentile(round_trips, 95)
        live = percentile(cycles["live"], 50) / raw
        verdict = ("meets" if ratio <= TARGET_RATIO and p95 <= TARGET_P95 and live <= TARGET_POLLING
                   else "MISSES")
        print(f"SUMMARY step_overhead [{env['CELERY_BROKER_URL'].split(':')[0]}]: a no-op step costs "
              f"{1000 * percentile(cycles['dry_run'], 50):.2f} ms at p50 = {ratio:.2f}× the raw Celery round trip "
              f"({1000 * raw:.2f} ms; a chain hop {1000 * percentile(chained, 50):.2f} ms), p95 {p95:.2f}×; a live wait "
              f"step (one poll hop) {live:.2f}×; {verdict} the targets (p50 ≤ {TARGET_RATIO}×, p95 ≤ {TARGET_P95}×, "
              f"polling step ≤ {TARGET_POLLING}×)")
    finally:
        stop_workers(workers)
    return 0


def raw_round_trips(hops: int) -> list[float]:
    from config.celery import app

    intervals: list[float] = []
    for length, keep in ((20, False), (hops, True)):  # a short relay first warms the pool processes
        with tempfile.NamedTemporaryFile("r", suffix=".relay", delete=False) as handle:
            path = Path(handle.name)
        app.send_task("bench.noop", args=[str(path), length])
        wait_for(lambda: line_count(path) > length, timeout=120, what="the no-op relay")
        stamps = [float(line) for line in path.read_text().split()]
        path.unlink()
        if keep:
            intervals = [b - a for a, b in zip(stamps, stamps[1:])]
    return intervals


def chain_round_trips(hops: int) -> list[float]:
    from celery import chain

    from bench.tasks import noop

    intervals: list[float] = []
    for length, keep in ((20, False), (hops, True)):
        with tempfile.NamedTemporaryFile("r", suffix=".chain", delete=False) as handle:
            path = Path(handle.name)
        chain(*(noop.si(str(path)) for _ in range(length))).apply_async()
        wait_for(lambda: line_count(path) >= length, timeout=120, what="the no-op chain")
        stamps = [float(line) for line in path.read_text().split()]
        path.unlink()
        if keep:
            intervals = [b - a for a, b in zip(stamps, stamps[1:])]
    return intervals


def line_count(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def import_noop_runbook(user: object, steps: int, mode: str) -> str:
    from runbooks.services import import_runbooks

    slug = f"bench-noop-{mode.replace('_', '-')}-{steps}"
    step_lines = "".join(f"""
      - name: No-op {i + 1}
        action: wait
        params: {{seconds: 0.001}}""" for i in range(steps))
    import_runbooks(sources=[("bench.yaml", f"""
systems:
  - slug: bench-noop
    name: Bench no-op system
    environment: staging
    tier: 4
runbooks:
  - slug: {slug}
    title: {steps} no-op steps
    system: bench-noop
    kind: partial_failover
    steps:{step_lines}
""")], user=user)
    return slug


def step_cycles(slug: str, user: object, mode: str, drills: int) -> tuple[list[float], dict[str, list[float]]]:
    from drills.models import Drill
    from drills.services import drill_start
    from runbooks.models import Runbook

    version = Runbook.objects.get(slug=slug).latest_version
    cycles: list[float] = []
    edges: dict[str, list[float]] = {"first": [], "last": []}
    for n in range(drills + 1):
        drill = drill_start(runbook_version=version, user=user, mode=mode)
        wait_for(lambda: Drill.objects.filter(pk=drill.pk, status__in=Drill.FINISHED).exists(), timeout=120,
                 what=f"drill {drill.pk}", interval=0.02)
        drill.refresh_from_db()
        if drill.status != Drill.Status.SUCCEEDED:
            raise RuntimeError(f"bench drill {drill.pk} ended {drill.status}: {drill.outcome}")
        if n == 0:
            continue  # the first drill warms the pool processes and their imports
        runs = list(drill.step_runs.order_by("position"))
        starts = [run.started_at for run in runs]
        cycles += [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
        edges["first"].append((starts[0] - drill.started_at).total_seconds())
        edges["last"].append((drill.finished_at - runs[-1].finished_at).total_seconds())
    return cycles, edges


if __name__ == "__main__":
    raise SystemExit(main())
