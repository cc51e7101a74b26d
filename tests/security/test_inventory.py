"""The inventory (systems, their environment, their target bindings: what a step may touch) belongs to
administrators. A coordinator imports and edits runbooks that name targets; moving a system out of
production takes a second administrator."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.roles import Role
from audit.models import AuditEntry
from drills.services import DrillActionRefused, drill_start
from runbooks.models import EnvironmentChange, Runbook, System
from runbooks.services import decide_environment_change, export_runbooks, import_runbooks
from runbooks.yaml_format import RunbookFormatError
from tests.support.roles import user_with_role

SYSTEM = """
systems:
  - slug: payments
    name: Payments
    environment: {environment}
    tier: 0
    targets:
      db: {{kind: sqlite, path: "{path}"}}
"""
RUNBOOK = """
runbooks:
  - slug: payments-check
    title: Payments check
    system: payments
    kind: partial_failover
    steps:
      - name: Confirm the database answers
        action: manual.confirm
        params: {instructions: "Run SELECT 1 on the payments database"}
"""


@pytest.fixture
def people(db):
    return {"admin": user_with_role("ada", Role.ADMIN.value), "other_admin": user_with_role("otto", Role.ADMIN.value),
            "coordinator": user_with_role("cole", Role.COORDINATOR.value)}


@pytest.fixture
def payments(people, tmp_path):
    import_runbooks(sources=[("payments.yaml", SYSTEM.format(environment="production", path=tmp_path / "p.db"))],
                    user=people["admin"])
    return System.objects.get(slug="payments")


def test_a_coordinator_imports_runbooks_but_not_system_changes(people, payments, tmp_path):
    coordinator = people["coordinator"]
    report = import_runbooks(sources=[("rb.yaml", RUNBOOK)], user=coordinator)
    assert report.versions_created == ["payments-check v1"]
    # An export (systems unchanged) imports back for a coordinator.
    import_runbooks(sources=[("export.yaml", export_runbooks())], user=coordinator)

    for change in (SYSTEM.format(environment="staging", path=tmp_path / "p.db"),
                   SYSTEM.format(environment="production", path="/etc/passwd")):
        with pytest.raises(RunbookFormatError, match="cole may not change systems .*administrator") as refused:
            import_runbooks(sources=[("mine.yaml", change + RUNBOOK.replace("Payments check", "Payments check 2"))],
                            user=coordinator)
        assert "payments" in str(refused.value)
    payments.refresh_from_db()
    assert (payments.environment, payments.targets["db"]["path"]) == ("production", str(tmp_path / "p.db"))
    assert Runbook.objects.get(slug="payments-check").versions.count() == 1  # refused whole


def test_moving_a_system_out_of_production_takes_a_second_administrator(people, payments, tmp_path, client):
    import_runbooks(sources=[("rb.yaml", RUNBOOK)], user=people["admin"])
    report = import_runbooks(sources=[("move.yaml", SYSTEM.format(environment="staging", path=tmp_path / "p.db"))],
                             user=people["admin"])
    assert report.environment_changes_pending == ["payments → staging"]
    payments.refresh_from_db()
    assert payments.environment == "production"
    # Still production: a live drill needs the typed name and a second person.
    with pytest.raises(DrillActionRefused, match="type its name"):
        drill_start(runbook_version=Runbook.objects.get(slug="payments-check").latest_version, user=people["admin"])

    change = EnvironmentChange.objects.get()
    with pytest.raises(PermissionDenied, match="another administrator"):
        decide_environment_change(change=change, user=people["admin"], approve=True, comment="mine")
    with pytest.raises(PermissionDenied):
        decide_environment_change(change=change, user=people["coordinator"], approve=True, comment="please")

    client.force_login(people["other_admin"])
    page = client.get(reverse("runbooks:system_detail", args=["payments"])).content.decode()
    assert "awaits a second administrator" in page and "Approve the move" in page
    client.post(reverse("runbooks:environment_change_decide", args=["payments", change.pk]),
                {"decision": "approve", "comment": "decommissioned, CHG-77"})
    payments.refresh_from_db()
    assert payments.environment == "staging"
    moved = AuditEntry.objects.get(action="system.environment_changed")
    assert moved.actor_name == "otto" and "asked by ada" in moved.summary and "CHG-77" in moved.summary
    assert AuditEntry.objects.filter(action="system.environment_change_requested", actor_name="ada").exists()


def test_the_decision_url_is_for_administrators_only(people, payments, tmp_path, client):
    import_runbooks(sources=[("move.yaml", SYSTEM.format(environment="staging", path=tmp_path / "p.db"))],
                    user=people["admin"])
    change = EnvironmentChange.objects.get()
    client.force_login(people["coordinator"])
    response = client.post(reverse("runbooks:environment_change_decide", args=["payments", change.pk]),
                           {"decision": "approve", "comment": "sneaky"})
    assert response.status_code == 403
    assert System.objects.get(slug="payments").environment == "production"
