"""What coordinators do with a running drill: a step fails and is retried or skipped, a manual
step is confirmed, a drill is aborted, a dry-run changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from drills.models import Drill, DrillEvent, StepRun
from drills.services import DrillActionRefused, abort_drill, confirm_step, retry_step, skip_step
from tests.support.scenarios import orders_system_yaml, system_and_runbook
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker


def test_a_failing_step_fails_the_drill_with_its_error_and_can_be_retried(worker, import_yaml, start_drill, orders_db, service, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{service.url}/fail", method: POST}}
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    drill = wait_for_drill(start_drill("drill-under-test"))

    assert drill.status == Drill.Status.FAILED
    failed, after = drill.step_runs.order_by("position")
    assert failed.status == StepRun.Status.FAILED
    assert "answered 500, expected 200" in failed.error
    assert after.status == StepRun.Status.PENDING and after.attempt == 0  # nothing ran after the failure
    assert "Call the failover endpoint" in drill.outcome

    skip_step(step_run=failed, user=coordinator, reason="Endpoint retired; failover done by hand")
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.SUCCEEDED
    failed.refresh_from_db()
    assert failed.status == StepRun.Status.SKIPPED and failed.note.startswith("Endpoint retired")
    assert DrillEvent.objects.filter(drill=drill, kind="step.skipped").count() == 1


def test_a_retried_step_runs_again_and_the_drill_resumes(worker, import_yaml, start_drill, orders_db, service, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    service.healthy = False
    drill = wait_for_drill(start_drill("drill-under-test"))
    assert drill.status == Drill.Status.FAILED
    step = drill.step_runs.get()
    with pytest.raises(DrillActionRefused):
        skip_step(step_run=step, user=coordinator, reason="  ")

    service.healthy = True
    retry_step(step_run=step, user=coordinator)
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.SUCCEEDED
    step.refresh_from_db()
    assert step.attempt == 2 and step.error == ""
    assert service.count("/health") == 2


def test_step_retries_absorb_a_transient_failure(worker, import_yaml, start_drill, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
        retries: 2
"""))
    service.take_down_for(1.5)
    drill = wait_for_drill(start_drill("drill-under-test"), timeout=60)
    assert drill.status == Drill.Status.SUCCEEDED
    step = drill.step_runs.get()
    assert step.attempt >= 2
    assert DrillEvent.objects.filter(drill=drill, kind="step.retrying").count() == step.attempt - 1


def test_a_manual_step_parks_the_drill_until_a_participant_confirms(worker, import_yaml, start_drill, orders_db, service, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Tell the stakeholders
        action: manual.confirm
        params: {{instructions: "Post in #incident"}}
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    drill = wait_for_drill(start_drill("drill-under-test"), statuses=("waiting",))
    manual, check = drill.step_runs.order_by("position")
    manual.refresh_from_db()
    assert manual.status == StepRun.Status.WAITING
    assert manual.evidence["instructions"] == "Post in #incident"
    assert check.status == StepRun.Status.PENDING and service.count("/health") == 0

    confirm_step(step_run=manual, user=coordinator, note="posted at 10:02")
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.SUCCEEDED
    manual.refresh_from_db()
    assert manual.acted_by == coordinator and manual.note == "posted at 10:02"
    with pytest.raises(DrillActionRefused):
        confirm_step(step_run=manual, user=coordinator)


def test_abort_stops_a_running_drill_and_nothing_after_it_runs(worker, import_yaml, start_drill, orders_db, service, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Let writes flow
        action: wait
        params: {{seconds: 30}}
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{service.url}/apply", method: POST}}
"""))
    drill = start_drill("drill-under-test")
    wait_until(lambda: drill.step_runs.filter(status=StepRun.Status.POLLING).exists(), message="the wait step to start")
    abort_drill(drill=drill, user=coordinator, reason="Production incident elsewhere; stand down")

    drill.refresh_from_db()
    assert drill.status == Drill.Status.ABORTED
    assert "stand down" in drill.outcome
    assert set(drill.step_runs.values_list("status", flat=True)) == {StepRun.Status.CANCELLED}
    with pytest.raises(DrillActionRefused):
        abort_drill(drill=drill, user=coordinator, reason="again")
    import time
    time.sleep(2)  # a poll message may still be in flight: it must not revive the drill
    drill.refresh_from_db()
    assert drill.status == Drill.Status.ABORTED
    assert service.count("/apply") == 0


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_dry_run_checks_every_step_and_changes_nothing(worker, import_yaml, start_drill, orders_db, orders_service):
    from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml

    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    before = sha(orders_db)
    files_before = sorted(p.name for p in orders_db.parent.iterdir())

    drill = wait_for_drill(start_drill("demo-orders-backup-restore", mode="dry_run"))

    assert drill.status == Drill.Status.SUCCEEDED
    assert all(s.evidence.get("dry_run") for s in drill.step_runs.all())
    assert "would" in drill.step_runs.get(position=4).evidence
    assert sha(orders_db) == before
    assert sorted(p.name for p in orders_db.parent.iterdir()) == files_before  # no backup file, no canary
    assert not drill.measurements.exists()


def test_a_dry_run_fails_on_a_missing_resource(worker, import_yaml, start_drill, orders_db, orders_service, tmp_path):
    from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml

    missing = tmp_path / "gone.sqlite3"
    import_yaml(orders_system_yaml(missing, orders_service), runbook_yaml())
    drill = wait_for_drill(start_drill("demo-orders-backup-restore", mode="dry_run"))
    assert drill.status == Drill.Status.FAILED
    backup = drill.step_runs.get(position=2)
    assert "cannot open SQLite database" in backup.error and str(missing) in backup.error
    assert not missing.exists()


def test_aborting_during_an_outage_says_the_service_was_left_down(worker, import_yaml, start_drill, orders_db, service,
                                                                 coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, """
      - name: Lose the database
        action: sqlite.fault
        params: {target: db}
        marks: [outage_start]
      - name: Wait before restoring
        action: wait
        params: {seconds: 30}
      - name: Check health
        action: http.request
        params: {url: "http://127.0.0.1:9/health"}
        marks: [service_restored]
"""))
    drill = start_drill("drill-under-test")
    wait_until(lambda: drill.step_runs.filter(position=2, status=StepRun.Status.POLLING).exists(),
               message="the outage to start")
    abort_drill(drill=drill, user=coordinator, reason="the restore host is down")

    drill.refresh_from_db()
    assert drill.status == Drill.Status.ABORTED
    assert "not recovered" in drill.outcome and "Orders may still be down" in drill.outcome
    assert DrillEvent.objects.filter(drill=drill, kind="drill.outage_left_open").count() == 1
