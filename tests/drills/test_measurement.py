"""How the RTO is split into phases: where a team's recovery time goes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from drills.measurement import rto_phases

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def run(action: str, start: float, end: float | None):
    return SimpleNamespace(step=SimpleNamespace(action=action), started_at=T0 + timedelta(seconds=start),
                           finished_at=T0 + timedelta(seconds=end) if end is not None else None)


def test_phases_split_the_outage_by_what_was_happening():
    runs = [
        run("sqlite.fault", -1, 0),            # before the outage: not counted
        run("manual.confirm", 1, 11),          # 10 s waiting for a person
        run("sqlite.restore", 12, 20),         # 8 s of recovery
        run("http.wait_healthy", 12, 25),      # overlaps the restore: verify only after it, 20..24
    ]
    phases = rto_phases(runs, T0, T0 + timedelta(seconds=24))
    assert phases == {"people": 10.0, "recover": 8.0, "verify": 4.0, "orchestration": 2.0}
    assert sum(phases.values()) == 24.0


def test_a_step_still_running_counts_until_the_end():
    phases = rto_phases([run("sqlite.restore", 0, None)], T0, T0 + timedelta(seconds=5))
    assert phases["recover"] == 5.0


def marked_run(position: int, name: str, marks: list[str], status: str):
    from drills.models import StepRun

    return SimpleNamespace(position=position, step=SimpleNamespace(name=name, marks=marks, action="manual.confirm"),
                           marks={}, get_status_display=lambda: dict(StepRun.Status.choices)[status])


def test_an_unmeasured_rto_names_the_step_that_should_have_marked_it():
    from drills.measurement import measure_rto

    drill = SimpleNamespace(rto_target_seconds=60.0)
    runs = [marked_run(1, "Pull the plug", ["outage_start"], "skipped"), marked_run(2, "Check", [], "succeeded")]
    result = measure_rto(drill, runs, {})
    assert result.value_seconds is None
    assert result.evidence["reason"] == ("step 1 “Pull the plug”, which marks outage_start, was skipped; "
                                         "no step of the runbook marks service_restored")
