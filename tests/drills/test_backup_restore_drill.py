"""A coordinator runs the orders backup-restore drill for real: a canary writes rows into the SQLite
file, the backup is taken, writes go on, the file is lost, restored, and the service verified."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from drills.models import CanaryWrite, Drill, DrillEvent
from tests.support.scenarios import backup_restore_runbook_yaml, orders_system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


def test_backup_restore_drill_measures_rto_and_rpo_from_the_canary(worker, import_yaml, start_drill, orders_db, orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), backup_restore_runbook_yaml())

    drill = wait_for_drill(start_drill("demo-orders-backup-restore"), timeout=90)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    steps = list(drill.step_runs.order_by("position"))
    assert [s.status for s in steps] == ["succeeded"] * 6
    measurements = {m.kind: m for m in drill.measurements.all()}

    rto = measurements["rto"]
    outage = datetime.fromisoformat(steps[3].marks["outage_start"])
    restored = datetime.fromisoformat(steps[5].marks["service_restored"])
    assert rto.value_seconds == pytest.approx((restored - outage).total_seconds())
    assert 0 < rto.value_seconds < 30
    assert rto.error_bound_seconds is not None and rto.error_bound_seconds <= 0.5 + 0.25
    assert rto.met is True
    assert rto.evidence["probe_interval_seconds"] == 0.5
    assert set(rto.evidence["phases_seconds"]) == {"people", "recover", "verify", "orchestration"}

    # RPO: the restored copy holds the canary rows up to the backup; the rows after it are lost.
    rpo = measurements["rpo"]
    backup = steps[1].evidence
    consistent_at = datetime.fromisoformat(backup["consistent_at"])
    assert rpo.value_seconds == pytest.approx((outage - consistent_at).total_seconds(), abs=0.5 + 0.1)
    assert rpo.value_seconds >= 3  # the runbook keeps writing for 3 s after the backup
    # The truth (outage − the backup's consistent point) lies inside the figure and its bound.
    true_rpo = (outage - consistent_at).total_seconds()
    assert rpo.value_seconds - rpo.error_bound_seconds - 1e-6 <= true_rpo <= rpo.value_seconds + 1e-6
    written_after_backup = CanaryWrite.objects.filter(canary__drill=drill, written_at__gt=consistent_at,
                                                      written_at__lte=outage).count()
    assert rpo.lost_rows == written_after_backup >= 4
    assert rpo.evidence["newest_surviving"]["seq"] == backup["newest_canary_in_backup"]["seq"]

    # The restored file is a working database again, with the orders and the surviving canary rows.
    conn = sqlite3.connect(orders_db)
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 200
    newest = conn.execute("SELECT max(seq) FROM drdrill_canary WHERE drill_id = ?", (drill.pk,)).fetchone()[0]
    assert newest == rpo.evidence["newest_surviving"]["seq"]
    conn.close()

    kinds = list(DrillEvent.objects.filter(drill=drill).values_list("kind", flat=True))
    assert kinds[0] == "drill.started" and kinds[-1] == "drill.succeeded"
    assert kinds.count("step.succeeded") == 6
