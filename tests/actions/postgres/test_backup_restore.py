"""A coordinator runs the shop database's restore drill on real PostgreSQL: a base backup is taken
while the canary writes, writes go on, the primary is lost, and a new cluster is started from the
backup at its address. The RPO is the time from the backup's consistent point to the outage, and the
rows lost are the canary rows written after the backup."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from drills.models import CanaryWrite, Drill
from tests.support.pg_cluster import example, service_binding, shop_db_system
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker



def test_restore_drill_measures_rpo_from_the_backups_consistent_point(worker, import_yaml, start_drill, sandbox):
    pg1 = sandbox.primary("pg1")
    restored = sandbox.planned("pg1-restored", port=pg1.port)
    import_yaml(shop_db_system(pg1=pg1.binding(backup_dir=str(sandbox.backup_dir)),
                               **{"pg1-restored": restored.binding()}, db=service_binding(pg1)),
                example("backup-restore.yaml"))
    orders_before = pg1.orders_summary()
    rehearsal = wait_for_drill(start_drill("shop-db-backup-restore", mode="dry_run"), timeout=60)
    assert rehearsal.status == Drill.Status.SUCCEEDED, rehearsal.outcome
    assert not any(sandbox.backup_dir.iterdir()) and not restored.data_dir.exists()

    drill = wait_for_drill(start_drill("shop-db-backup-restore"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    steps = {s.step.key: s for s in drill.step_runs.select_related("step")}
    backup = steps["backup"].evidence
    consistent_at = datetime.fromisoformat(backup["consistent_at"])
    outage = datetime.fromisoformat(steps["disaster"].marks["outage_start"])
    assert backup["consistent_lsn"] and backup["manifest_sha256"] and backup["bytes"] > 0

    # The new cluster runs from the backup, at pg1's address, with the orders of before.
    assert not pg1.running() and restored.running()
    assert restored.query("SELECT current_setting('data_directory')")[0][0] == str(restored.data_dir)
    assert restored.orders_summary() == orders_before
    assert steps["verify"].evidence["tables"]["public.orders"]["matches"] is True

    rpo = drill.measurements.get(kind="rpo")
    expected = (outage - consistent_at).total_seconds()
    writes = CanaryWrite.objects.filter(canary__drill=drill)
    survivor = writes.get(seq=rpo.evidence["newest_surviving"]["seq"])
    first_lost = writes.filter(seq__gt=survivor.seq).order_by("seq").first()
    # The backup holds every row written before its consistent point and none after: the newest
    # surviving row is the last one written before it. So the RPO exceeds outage − consistent point
    # by less than the spacing of two canary rows (one interval; the broker's timer may stretch it).
    spacing = (first_lost.written_at - survivor.written_at).total_seconds()
    # (A row commits a few milliseconds after the time it carries.)
    commit_latency = timedelta(seconds=0.1)
    assert survivor.written_at <= consistent_at < first_lost.written_at + commit_latency
    assert expected <= rpo.value_seconds <= expected + spacing + commit_latency.total_seconds(), (
        rpo.value_seconds, expected, spacing)
    assert rpo.value_seconds >= 3  # the runbook keeps writing for 3 s after the backup
    # A row is in the backup when its commit came before the consistent point: one that carries an
    # earlier time but committed after it is lost too.
    committed_after_backup = sum(1 for w in writes if w.written_at <= outage
                                 and (w.committed_at or w.written_at) > consistent_at)
    assert rpo.lost_rows == committed_after_backup >= 3
    survived = restored.canary_seqs(drill.pk)
    assert max(survived) == survivor.seq
    assert not survived & set(writes.filter(written_at__gt=consistent_at).values_list("seq", flat=True))

    rto = drill.measurements.get(kind="rto")
    assert rto.value_seconds > 0 and rto.met is True
