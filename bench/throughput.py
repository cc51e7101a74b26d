"""How many steps a second two worker processes get through, against raw Celery, in one run.

1. Raw: a burst of no-op tasks on the same two workers; tasks a second from the first publish to
   the last task run. And what someone would write without drdrill: as many Celery ``chain``s of
   no-op tasks as there are drills, each as long as a drill, started at once.
2. Drills: 50 drills of 20 no-op steps started at once (dry-run steps, continued in-process, as in
   bench/step_overhead.py); steps a second from the first drill's start to the last drill's end.
3. The workers' memory (each worker: its main process, pool processes and, for the first, beat):
   PSS, which counts a page shared by several processes once, beside the sum of RSS.

    .venv/bin/python -m bench.throughput --broker redis
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.harness import arguments, configure, machine, start_workers, stop_workers, superuser, wait_for
from bench.step_overhead import import_noop_runbook, line_count

TARGET_SHARE = 0.7


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--drills", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--noops", type=int, default=3000, help="no-op tasks in the raw burst (default 3000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker (default 2)")
    parser.add_argument("--mode", choices=("dry_run", "live"), default="dry_run",
                        help="dry_run: no-op plan() steps, continued in-process; live: wait 1 ms steps, one poll message each")
    options = parser.parse_args()
    env = configure("throughput", options)
    workers = start_workers(options.workers, concurrency=options.concurrency, env=env, label="throughput")
    try:
        print(f"throughput on {machine()}; {options.workers} workers × {options.concurrency} pool processes")
        noop_rate = raw_throughput(options.noops)
        print(f"raw Celery: {options.noops} no-op tasks at {noop_rate:8.1f} tasks/s")
        chain_rate = chain_throughput(options.drills, options.steps)
        print(f"Celery chains: {options.drills} chains × {options.steps} no-op tasks at {chain_rate:8.1f} tasks/s")
        user = superuser()
        slug = import_noop_runbook(user, options.steps, options.mode)
        warm_up(slug, user, options.mode)
        steps, elapsed = drill_throughput(slug, user, options.mode, options.drills)
        step_rate = steps / elapsed
        print(f"drdrill: {options.drills} drills × {options.steps} {options.mode} steps = {steps} steps in "
              f"{elapsed:.2f} s: {step_rate:8.1f} steps/s")
        memories = [worker.memory() for worker in workers]
        for worker, memory in zip(workers, memories):
            print(f"    worker {worker.name.split('-')[2]}{' (+beat)' if worker.beat else ''}: {memory['processes']} processes, "
                  f"PSS {memory['pss_mib']:.0f} MiB, RSS {memory['rss_mib']:.0f} MiB (main {memory['main_rss_mib']:.0f} MiB), "
                  f"sum of RSS peaks {memory['peak_rss_mib']:.0f} MiB")
        share = step_rate / noop_rate
        verdict = "meets" if share >= TARGET_SHARE else "MISSES"
        plain = [m["pss_mib"] for w, m in zip(workers, memories) if not w.beat]
        print(f"SUMMARY throughput [{env['CELERY_BROKER_URL'].split(':')[0]}]: {step_rate:.1f} steps/s = "
              f"{100 * share:.0f}% of raw no-op throughput ({noop_rate:.0f} tasks/s), {100 * step_rate / chain_rate:.0f}% of "
              f"Celery chains ({chain_rate:.0f} tasks/s); {verdict} the target of ≥ {100 * TARGET_SHARE:.0f}%; "
              f"workers' PSS {sum(m['pss_mib'] for m in memories):.0f} MiB (RSS {sum(m['rss_mib'] for m in memories):.0f} MiB)"
              + (f", a {options.concurrency}-process worker without beat {plain[0]:.0f} MiB PSS" if plain else ""))
    finally:
        stop_workers(workers)
    return 0


def raw_throughput(count: int) -> float:
    from config.celery import app

    with tempfile.NamedTemporaryFile("r", suffix=".burst", delete=False) as handle:
        path = Path(handle.name)
    started = time.time()
    for _ in range(count):
        app.send_task("bench.noop", args=[str(path), 0])
    wait_for(lambda: line_count(path) >= count, timeout=600, what="the no-op burst", interval=0.02)
    last = max(float(line) for line in path.read_text().split())
    path.unlink()
    return count / (last - started)


def chain_throughput(chains: int, length: int) -> float:
    from celery import chain

    from bench.tasks import noop

    with tempfile.NamedTemporaryFile("r", suffix=".chains", delete=False) as handle:
        path = Path(handle.name)
    started = time.time()
    for _ in range(chains):
        chain(*(noop.si(str(path)) for _ in range(length))).apply_async()
    total = chains * length
    wait_for(lambda: line_count(path) >= total, timeout=600, what="the chains", interval=0.02)
    last = max(float(line) for line in path.read_text().split())
    path.unlink()
    return total / (last - started)


def warm_up(slug: str, user: object, mode: str) -> None:
    from drills.models import Drill

    drills = start_drills(slug, user, mode, 4)
    wait_for(lambda: not Drill.objects.filter(pk__in=drills).exclude(status__in=Drill.FINISHED).exists(),
             timeout=300, what="the warm-up drills")


def start_drills(slug: str, user: object, mode: str, count: int) -> list[int]:
    from drills.services import drill_start
    from runbooks.models import Runbook

    version = Runbook.objects.get(slug=slug).latest_version
    return [drill_start(runbook_version=version, user=user, mode=mode).pk for _ in range(count)]


def drill_throughput(slug: str, user: object, mode: str, count: int) -> tuple[int, float]:
    from django.db.models import Max, Min

    from drills.models import Drill, StepRun

    drills = start_drills(slug, user, mode, count)
    batch = Drill.objects.filter(pk__in=drills)
    wait_for(lambda: not batch.exclude(status__in=Drill.FINISHED).exists(), timeout=900, what="the drills",
             interval=0.2)
    failed = batch.exclude(status=Drill.Status.SUCCEEDED).count()
    if failed:
        raise RuntimeError(f"{failed} bench drills did not succeed")
    span = batch.aggregate(first=Min("started_at"), last=Max("finished_at"))
    steps = StepRun.objects.filter(drill__in=batch, status=StepRun.Status.SUCCEEDED).count()
    return steps, (span["last"] - span["first"]).total_seconds()


if __name__ == "__main__":
    raise SystemExit(main())
