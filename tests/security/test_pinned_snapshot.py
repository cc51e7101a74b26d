"""An approval approves one thing: the drill's snapshot (runbook version, environment, the bindings its
steps will use), pinned when the drill was requested. What happens to the inventory afterwards does
not change what the drill touches; a gate stops everything after it; a rejection is final."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.roles import Role
from drills.models import Approval, Drill
from drills.services import DrillActionRefused, approve_start, drill_start, reject_step, retry_step
from runbooks.models import Runbook
from runbooks.services import import_runbooks
from runbooks.yaml_format import RunbookFormatError
from tests.support.roles import user_with_role
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

PRODUCTION = """
systems:
  - slug: ledger
    name: Ledger
    environment: production
    tier: 1
    targets:
      db: {{kind: sqlite, path: "{path}"}}
runbooks:
  - slug: ledger-backup
    title: Ledger backup
    system: ledger
    kind: backup_restore
    steps:
      - name: Back up the ledger
        action: sqlite.backup
        params: {{target: db}}
"""


@pytest.fixture
def people(db):
    admin = user_with_role("ada", Role.ADMIN.value)
    starter = user_with_role("sam", Role.COORDINATOR.value)
    return {"admin": admin, "starter": starter, "approver": user_with_role("ann", Role.APPROVER.value)}


def test_rebinding_a_system_after_its_drill_was_requested_changes_nothing_the_drill_touches(worker, people, tmp_path):
    from demo.orders_service import create_database

    approved_db, other_db = tmp_path / "approved.sqlite3", tmp_path / "other.sqlite3"
    create_database(approved_db)
    create_database(other_db)
    import_runbooks(sources=[("ledger.yaml", PRODUCTION.format(path=approved_db))], user=people["admin"])
    drill = drill_start(runbook_version=Runbook.objects.get(slug="ledger-backup").latest_version,
                        user=people["starter"], confirmation="Ledger")
    assert drill.status == Drill.Status.DRAFT

    # Between the request and the approval, the system is pointed at another database.
    import_runbooks(sources=[("ledger.yaml", PRODUCTION.format(path=other_db))], user=people["admin"])
    approve_start(drill=drill, user=people["approver"], comment="CAB-9 as requested")
    drill = wait_for_drill(drill)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert drill.step_runs.get().evidence["source"] == str(approved_db)
    assert drill.snapshot["targets"]["db"]["path"] == str(approved_db)
    assert Approval.objects.get(drill=drill).snapshot_digest == drill.snapshot_digest != ""


def test_an_approval_gate_cannot_share_a_parallel_group(db, import_yaml, orders_db, service):
    with pytest.raises(RunbookFormatError, match="approval gate 'Approve' shares the parallel group 'go'"):
        import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Approve
        action: approval
        params: {{instructions: "Approve the failover"}}
        group: go
      - name: Fail over
        action: http.request
        params: {{url: "{service.url}/apply", method: POST}}
        group: go
"""))
    assert not Runbook.objects.exists()


def test_a_rejected_gate_ends_the_drill_and_cannot_be_retried_by_anyone(worker, people, import_yaml, orders_db,
                                                                        service):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Approve
        action: approval
        params: {{instructions: "Approve the failover"}}
      - name: Fail over
        action: http.request
        params: {{url: "{service.url}/apply", method: POST}}
"""))
    starter = people["starter"]
    starter.groups.add(Group.objects.get_or_create(name=Role.APPROVER.value)[0])
    drill = wait_for_drill(drill_start(runbook_version=Runbook.objects.get(slug="drill-under-test").latest_version,
                                       user=starter), statuses=("waiting",))
    reject_step(step_run=drill.step_runs.get(position=1), user=people["approver"], comment="change freeze")
    drill = wait_for_drill(drill)

    with pytest.raises(DrillActionRefused, match="rejection ends the drill"):
        retry_step(step_run=drill.step_runs.get(position=1), user=people["admin"])
    assert Drill.objects.get(pk=drill.pk).status == Drill.Status.FAILED
    assert service.count("/apply") == 0
