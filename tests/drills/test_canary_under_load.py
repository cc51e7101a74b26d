"""The RPO's bound holds when the machine is busy: with a process spinning on every core, the canary
writes late and unevenly, and the bound, taken from the gaps it actually left around the newest
surviving row, still contains the truth (the backup's consistent point, known independently)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

from drills.models import CanaryWrite, Drill
from tests.support.scenarios import orders_system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

RUNBOOK = """
runbooks:
  - slug: busy-backup-restore
    title: Backup restore on a busy machine
    system: orders
    kind: backup_restore
    canary: {target: db, interval: 0.1s}
    steps:
      - name: Let the canary write
        action: wait
        params: {seconds: 1}
      - key: backup
        name: Back up the orders database
        action: sqlite.backup
        params: {target: db}
      - name: Keep writing after the backup
        action: wait
        params: {seconds: 1.5}
      - name: Lose the orders database
        action: sqlite.fault
        params: {target: db, mode: delete}
        marks: [outage_start]
      - name: Restore it
        action: sqlite.restore
        params: {target: db}
        marks: [service_restored]
"""


@pytest.fixture
def busy_cores() -> Iterator[None]:
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield
    for spinner in spinners:
        spinner.kill()
        spinner.wait()


@pytest.mark.parametrize("run", range(3))
def test_the_rpo_bound_contains_the_true_loss_window_under_cpu_load(worker, import_yaml, start_drill, orders_db,
                                                                    busy_cores, run):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), RUNBOOK)

    drill = wait_for_drill(start_drill("busy-backup-restore"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    rpo = drill.measurements.get(kind="rpo")
    outage = datetime.fromisoformat(drill.step_runs.get(position=4).marks["outage_start"])
    consistent_at = datetime.fromisoformat(drill.step_runs.get(position=2).evidence["consistent_at"])
    # Independently of the measurement: which rows survived (the restored file) and which were written.
    survivor = sqlite3.connect(orders_db).execute(
        "SELECT max(seq) FROM drdrill_canary WHERE drill_id = ?", (drill.pk,)).fetchone()[0]
    writes = CanaryWrite.objects.filter(canary__drill=drill, written_at__lte=outage)
    survivor_at = writes.get(seq=survivor).written_at
    first_lost = writes.filter(seq__gt=survivor).order_by("seq").first()
    window_end = first_lost.committed_at if first_lost else outage
    # The copy holds everything up to its consistent point: the truth lies in the observed loss window...
    assert survivor_at <= consistent_at <= window_end
    # ...and the measured RPO with its bound covers it.
    true_rpo = (outage - consistent_at).total_seconds()
    assert rpo.value_seconds == pytest.approx((outage - survivor_at).total_seconds(), abs=1e-6)
    assert rpo.value_seconds - rpo.error_bound_seconds - 1e-6 <= true_rpo <= rpo.value_seconds + 1e-6
    assert rpo.evidence["canary_gaps_seconds"]["count"] >= 5
