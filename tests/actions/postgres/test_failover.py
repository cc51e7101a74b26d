"""A coordinator runs the shop database's failover drill on real PostgreSQL: the canary writes
through the service address, the primary crashes, the streaming replica is promoted, the probe sees
writes accepted again. The measured RTO matches what an independent probe in the test saw, and the
RPO comes with its evidence and the rows lost."""

from __future__ import annotations

from datetime import datetime

import pytest

from drills.models import CanaryWrite, Drill
from tests.support.pg_cluster import WriteProbe, example, service_binding, shop_db_system
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

PROBE_INTERVAL = 0.25  # the runbook's postgres.wait_healthy interval
TEST_PROBE_INTERVAL = 0.05


def test_failover_drill_measures_rto_like_an_independent_probe_and_rpo_from_the_canary(worker, import_yaml, start_drill,
                                                                                        sandbox):
    pg1 = sandbox.primary("pg1")
    pg2 = sandbox.standby_of(pg1, "pg2")
    import_yaml(shop_db_system(pg1=pg1.binding(), pg2=pg2.binding(), db=service_binding(pg1, pg2)),
                example("ha-failover.yaml"))
    orders_before = pg1.orders_summary()

    # A dry-run first: every plan() checks connectivity and roles, and nothing changes.
    rehearsal = wait_for_drill(start_drill("shop-db-failover", mode="dry_run"), timeout=60)
    assert rehearsal.status == Drill.Status.SUCCEEDED, rehearsal.outcome
    assert pg1.running() and not pg1.in_recovery() and pg2.in_recovery()

    with WriteProbe(pg1, pg2, interval=TEST_PROBE_INTERVAL) as independent:
        drill = wait_for_drill(start_drill("shop-db-failover"), timeout=90)
    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome

    # One primary: pg1 is down, pg2 promoted once (one new timeline) and serving.
    assert not pg1.running()
    assert not pg2.in_recovery()
    assert pg2.timeline_histories() == ["00000002.history"]
    assert pg2.orders_summary() == orders_before
    steps = {s.step.key: s for s in drill.step_runs.select_related("step")}
    assert steps["promote"].evidence["timeline"] == 2
    assert steps["verify"].evidence["tables"]["public.orders"]["matches"] is True

    measurements = {m.kind: m for m in drill.measurements.all()}
    rto = measurements["rto"]
    last_up, back_up = independent.outage()
    seen = (back_up - last_up).total_seconds()
    assert abs(rto.value_seconds - seen) <= PROBE_INTERVAL, (rto.value_seconds, seen)
    assert rto.error_bound_seconds <= PROBE_INTERVAL + 0.1
    assert rto.evidence["probe_url"].startswith("postgresql://")
    assert rto.met is True

    rpo = measurements["rpo"]
    outage = datetime.fromisoformat(steps["disaster"].marks["outage_start"])
    written = set(CanaryWrite.objects.filter(canary__drill=drill, written_at__lte=outage).values_list("seq", flat=True))
    survived = pg2.canary_seqs(drill.pk)
    assert len(written) >= 3
    assert rpo.lost_rows == len(written - survived) <= 1  # asynchronous replication: at most the row in flight
    survivor = CanaryWrite.objects.get(canary__drill=drill, seq=max(survived))
    assert rpo.evidence["newest_surviving"]["seq"] == survivor.seq
    assert rpo.value_seconds == pytest.approx(max((outage - survivor.written_at).total_seconds(), 0), abs=0.001)
    assert rpo.evidence["read_from"].startswith("postgres postgresql://")
