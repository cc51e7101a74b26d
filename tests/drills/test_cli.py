"""Pipelines run drills headless: one JSON object out, a non-zero exit when the drill fails."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml, system_and_runbook

pytestmark = pytest.mark.worker


def test_drill_run_waits_and_prints_the_result_as_json(worker, import_yaml, orders_db, orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    out = StringIO()
    call_command("drill", "run", "demo-orders-backup-restore", "--wait", "--json", "--timeout", "90", stdout=out)
    result = json.loads(out.getvalue())
    assert result["status"] == "succeeded"
    assert result["rto_seconds"] > 0 and result["rto_met"] is True
    assert result["rpo_seconds"] >= 3 and result["rpo_met"] is True and result["rpo_lost_rows"] > 0
    assert [s["status"] for s in result["steps"]] == ["succeeded"] * 6
    assert all(s["started_at"] and s["finished_at"] for s in result["steps"])


def test_a_failed_drill_exits_non_zero_with_the_error_in_the_json(worker, import_yaml, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Promote the standby
        action: http.request
        params: {{url: "{service.url}/fail", method: POST}}
"""))
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("drill", "run", "drill-under-test", "--wait", "--json", stdout=out)
    assert exited.value.code == 1
    result = json.loads(out.getvalue())
    assert result["status"] == "failed"
    assert "answered 500, expected 200" in result["steps"][0]["error"]


def test_dry_run_from_the_cli(worker, import_yaml, orders_db, orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    out = StringIO()
    call_command("drill", "run", "demo-orders-backup-restore", "--dry-run", "--wait", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["mode"] == "dry_run" and result["status"] == "succeeded"
    assert result["rto_seconds"] is None
    # A dry-run changed nothing, so no step "succeeded": each is planned, with its plan in words.
    assert [s["status"] for s in result["steps"]] == ["planned"] * 6
    disaster = result["steps"][3]
    assert disaster["plan"] == f"deletes the database file {orders_db} (target 'db'): the outage"
    assert result["changed"].startswith("nothing")
    assert any("deletes the database file" in change for change in result["a_live_run_would"])
    assert orders_db.exists()


def test_a_dry_run_that_would_fail_says_so_and_why(worker, import_yaml, tmp_path, orders_service, coordinator):
    missing = tmp_path / "not-there.sqlite3"
    import_yaml(orders_system_yaml(missing, orders_service), runbook_yaml())
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("drill", "run", "demo-orders-backup-restore", "--dry-run", "--wait", "--json", stdout=out)
    result = json.loads(out.getvalue())
    steps = result["steps"]
    assert steps[0]["status"] == "planned" and steps[1]["status"] == "would_fail"
    assert "not-there.sqlite3" in steps[1]["error"]
    # The drill page says the same in words, the reason beside the row.
    client = Client()
    client.force_login(coordinator)
    page = client.get(f"/drills/{result['drill']}/").content.decode()
    row = page.split('id="step-2"')[1].split("</tr>")[0]
    assert 'data-shown="would_fail"' in row and ">Would fail<" in row and "not-there.sqlite3" in row
    assert ">Succeeded<" not in page


def test_an_unknown_runbook_is_a_clear_error(db):
    with pytest.raises(CommandError, match="no runbook 'nope'; import it first"):
        call_command("drill", "run", "nope")


def test_with_json_a_refusal_is_json_too(db):
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("drill", "run", "nope", "--json", stdout=out)
    assert exited.value.code == 1
    assert json.loads(out.getvalue()) == {"status": "refused",
                                          "error": "no runbook 'nope'; import it first (manage.py runbooks import PATH)"}
