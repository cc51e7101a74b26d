"""Waiting for what real workers do, on recorded state (never on how fast it happened)."""

from __future__ import annotations

import time
from typing import Any


def wait_for_drill(drill: Any, statuses: tuple[str, ...] = ("succeeded", "failed", "aborted"), timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drill.refresh_from_db()
        if drill.status in statuses:
            return drill
        time.sleep(0.2)
    steps = [(s.position, s.status, s.error) for s in drill.step_runs.order_by("position")]
    raise AssertionError(f"drill {drill.pk} still {drill.status} after {timeout} s; steps: {steps}")


def wait_until(predicate: Any, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")
