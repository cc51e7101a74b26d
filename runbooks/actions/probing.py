"""Probing until a service is verified healthy: the one piece of logic behind every
``*.wait_healthy`` action and hence behind ``service_restored``.

The service counts as restored at the *first* success of a run of ``consecutive`` successes, and it
came back somewhere after the last failed probe; both times are kept (on the measurement clock) so
the RTO is reported with its error bound (docs/measurement.md). A call probes for at most
``PROBE_BURST_SECONDS`` and hands the worker back with ``PollAgain``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .base import Done, Outcome, PollAgain, StepContext

PROBE_BURST_SECONDS = 2.0
MAX_PROBES_IN_EVIDENCE = 40

# One probe: (healthy?, a short detail, extra fields for the evidence of this probe).
ProbeOnce = Callable[[], tuple[bool, str, dict[str, Any]]]


def burst_call_timeout(*, interval: float, probe_timeout: float) -> float:
    """Upper bound of one burst: its probing time, one more interval and probe, and slack."""
    return PROBE_BURST_SECONDS + interval + 4 * probe_timeout + 1


def probe_until_healthy(probe_once: ProbeOnce, ctx: StepContext, *, address: str, method: str, interval: float,
                        consecutive: int) -> Outcome:
    state = dict(ctx.state) or {"probes": 0, "failures": 0, "streak": 0, "streak_started_at": None,
                                "last_failure_at": None, "recent": []}
    burst_end = time.monotonic() + PROBE_BURST_SECONDS
    while True:
        ok, detail, extra = probe_once()
        # The probe's time on the measurement clock, read right after its answer came back.
        at = ctx.now()
        state["probes"] += 1
        if ok:
            if state["streak"] == 0:
                state["streak_started_at"] = at.isoformat()
            state["streak"] += 1
        else:
            state["failures"] += 1
            state["streak"] = 0
            state["streak_started_at"] = None
            state["last_failure_at"] = at.isoformat()
        state["recent"] = (state["recent"] + [{"at": at.isoformat(), "ok": ok, **extra,
                                               "detail": "" if ok else detail[:160]}])[-MAX_PROBES_IN_EVIDENCE:]
        if state["streak"] >= consecutive:
            return Done(evidence={
                # The RTO's error bound is read from these keys (drills/measurement.py).
                "url": address,
                "method": method,
                "interval_seconds": interval,
                "consecutive": consecutive,
                "probes": state["probes"],
                "failures": state["failures"],
                "first_success_at": state["streak_started_at"],
                "last_failure_at": state["last_failure_at"],
                "recent_probes": state["recent"],
            }, marks={"service_restored": datetime.fromisoformat(state["streak_started_at"])})
        if time.monotonic() + interval > burst_end:
            return PollAgain(after_seconds=interval, state=state,
                             evidence={"url": address, "probes": state["probes"], "failures": state["failures"]})
        time.sleep(interval)
