"""`make run` seeds the demo on every start: a restart must keep what a person changed since — a
runbook version imported in the UI, a binding an administrator edited — and only add what is missing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from runbooks.models import Runbook, Scenario, System
from tests.support.roles import user_with_role
from tests.support.scenarios import BACKUP_RESTORE_EXAMPLE

pytestmark = pytest.mark.django_db


def restart_make_run() -> str:
    """What scripts/run_embedded.py runs on each start before serving."""
    out = StringIO()
    call_command("demo", "--no-admin", stdout=out)
    return out.getvalue()


def test_a_restart_keeps_the_runbook_version_a_person_imported_and_the_bindings_they_changed(client):
    restart_make_run()  # the first start creates what is missing: everything
    assert Runbook.objects.filter(slug="demo-orders-backup-restore").exists()
    assert Scenario.objects.filter(slug="demo-orders-database-lost").exists()
    client.force_login(user_with_role("casey", "coordinator"))
    edited = BACKUP_RESTORE_EXAMPLE.read_text().replace("params: {seconds: 3}", "params: {seconds: 5}")
    response = client.post("/runbooks/import/", {"files": SimpleUploadedFile("orders.yaml", edited.encode())})
    assert response.status_code == 302
    runbook = Runbook.objects.get(slug="demo-orders-backup-restore")
    assert runbook.latest_version.number == 2
    system = System.objects.get(slug="demo-orders")
    system.targets["web"]["url"] = "http://orders.internal:8765"
    system.save()

    output = restart_make_run()

    assert runbook.latest_version.number == 2, output
    assert runbook.versions.count() == 2
    assert runbook.latest_version.steps.get(key="keep-writing").params == {"seconds": 5}
    assert System.objects.get(slug="demo-orders").targets["web"]["url"] == "http://orders.internal:8765"
    assert "new runbook versions" not in output and "systems updated" not in output
