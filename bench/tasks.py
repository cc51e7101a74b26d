"""The bench workers' Celery app: drdrill's own app, plus the yardstick every figure is compared
with — a task that does nothing but note when it ran (and, in a relay, send the next one)."""

from __future__ import annotations

import time

from config.celery import app

__all__ = ["app", "noop"]


@app.task(name="bench.noop", ignore_result=True)
def noop(log_path: str, relay: int = 0) -> None:
    # One short append per task: O_APPEND writes of a line are atomic, so parallel tasks may share a file.
    with open(log_path, "a") as log:
        log.write(f"{time.time():.6f}\n")
    if relay > 0:
        noop.apply_async(args=(log_path, relay - 1))
