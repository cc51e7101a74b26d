"""RPO figures a step records (a cloud provider's facts): a restore point taken against the outage
start, a figure as is, and, beside a canary, the step's figure kept and a disagreement flagged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from drills.measurement import MeasurementResult, beside_step_figures, rpo_figures_recorded_by_steps

OUTAGE = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def run(name: str, evidence: dict) -> SimpleNamespace:
    return SimpleNamespace(step=SimpleNamespace(name=name), evidence=evidence)


def test_a_restore_point_is_measured_against_the_outage_start():
    restored_to = OUTAGE - timedelta(seconds=95)
    runs = [run("Incident", {}), run("Restore", {"rpo_recovered_to": restored_to.isoformat(), "rpo_method": "restore point"})]

    [result] = rpo_figures_recorded_by_steps(runs, OUTAGE, target=300)

    assert result.value_seconds == 95 and result.method == "restore point" and result.met is True
    assert result.evidence["outage_start"] == OUTAGE.isoformat()
    assert result.evidence["recovered_to_after_outage_start"] is False


def test_a_restore_point_after_the_outage_loses_nothing_but_is_flagged():
    runs = [run("Restore", {"rpo_recovered_to": (OUTAGE + timedelta(seconds=30)).isoformat()})]

    [result] = rpo_figures_recorded_by_steps(runs, OUTAGE, target=300)

    assert result.value_seconds == 0.0 and result.evidence["recovered_to_after_outage_start"] is True


def test_without_an_outage_mark_a_restore_point_gives_no_figure_but_a_recorded_figure_does():
    assert rpo_figures_recorded_by_steps([run("Restore", {"rpo_recovered_to": OUTAGE.isoformat()})], None, target=60) == []
    [result] = rpo_figures_recorded_by_steps([run("Failover", {"rpo_seconds": 0, "rpo_method": "Azure planned failover"})],
                                             None, 60)
    assert result.value_seconds == 0.0 and result.evidence["step"] == "Failover"


def test_beside_a_canary_the_steps_figure_is_kept_and_a_disagreement_flagged():
    step = MeasurementResult("rpo", 0.0, 60, "Azure planned failover", {"step": "Failover"})
    agrees = MeasurementResult("rpo", 0.4, 60, "canary", {}, error_bound_seconds=0.5)
    disagrees = MeasurementResult("rpo", 3.0, 60, "canary", {}, error_bound_seconds=0.5)

    beside_step_figures(agrees, [step])
    beside_step_figures(disagrees, [step])

    assert agrees.value_seconds == 0.4 and agrees.evidence["step_figures"][0]["disagrees"] is False
    assert "disagreement" not in agrees.evidence
    assert disagrees.value_seconds == 3.0 and disagrees.evidence["step_figures"][0]["disagrees"] is True
    assert disagrees.evidence["step_figures"][0]["rpo_method"] == "Azure planned failover"
    assert disagrees.evidence["disagreement"].startswith("step “Failover” recorded 0.000 s")
