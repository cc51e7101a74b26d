"""After a failover (pg1 crashed, pg2 promoted), a coordinator runs the failback drill on real
PostgreSQL: pg1 is rebuilt as a standby of pg2 — by pg_rewind, or by a fresh base backup when
rewinding is impossible — a clean switchover makes pg1 primary again, and pg2 rejoins as its
standby. No canary row committed on pg2 is lost."""

from __future__ import annotations

import pytest

from drills.models import CanaryWrite, Drill
from tests.support.pg_cluster import example, service_binding, shop_db_system
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


@pytest.mark.parametrize("wal_keep_size, method", [
    ("128MB", "pg_rewind"),
    # Without kept WAL, the crash recovery pg_rewind runs first recycles the WAL it then needs.
    ("0", "base backup"),
])
def test_failback_returns_to_the_original_primary_without_losing_a_committed_row(
        worker, import_yaml, start_drill, sandbox, wal_keep_size, method):
    pg1 = sandbox.primary("pg1", wal_keep_size=wal_keep_size)
    pg2 = sandbox.standby_of(pg1, "pg2")
    pg1.stop("immediate")
    pg2.promote()
    with pg2.connect() as conn:
        conn.execute("INSERT INTO orders VALUES (1001, 'taken on pg2 after the failover')")
    import_yaml(shop_db_system(pg1=pg1.binding(), pg2=pg2.binding(), db=service_binding(pg1, pg2)),
                example("failback.yaml"))
    orders_on_pg2 = pg2.orders_summary()
    rehearsal = wait_for_drill(start_drill("shop-db-failback", mode="dry_run"), timeout=60)
    assert rehearsal.status == Drill.Status.SUCCEEDED, rehearsal.outcome
    assert not pg1.running() and not pg2.in_recovery()

    drill = wait_for_drill(start_drill("shop-db-failback"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    steps = {s.step.key: s for s in drill.step_runs.select_related("step")}
    rebuild = steps["rebuild-pg1"].evidence
    assert rebuild["method"] == method
    if method == "base backup":
        assert "could not find previous WAL record" in rebuild["rewind_failed"]
        assert rebuild["previous_data_dir_kept_at"].endswith("-before-rebuild")
    # pg2 stopped cleanly, so it rejoins by pg_rewind whatever happened to pg1.
    assert steps["rejoin-pg2"].evidence["method"] == "pg_rewind"

    # pg1 is primary again with everything pg2 took; pg2 streams from it.
    assert not pg1.in_recovery()
    assert pg1.orders_summary() == orders_on_pg2
    assert pg2.in_recovery()
    assert pg2.query("SELECT status, sender_port FROM pg_stat_wal_receiver")[0] == ("streaming", pg1.port)
    switchover = steps["switchover"].evidence
    assert switchover["replayed_lsn_before_promote"] and switchover["shutdown_checkpoint_lsn"]

    # Every canary row pg2 committed is on pg1.
    committed = set(CanaryWrite.objects.filter(canary__drill=drill).values_list("seq", flat=True))
    assert len(committed) >= 3
    assert committed <= pg1.canary_seqs(drill.pk)
    measurements = {m.kind: m for m in drill.measurements.all()}
    assert measurements["rpo"].lost_rows == 0
    assert measurements["rto"].value_seconds > 0
