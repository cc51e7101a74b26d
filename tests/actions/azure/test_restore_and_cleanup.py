"""Point-in-time restore drills: the RPO comes from the point Azure restored to, measured against
the incident; the restored database is tagged with the drill, recorded as created, and deleted by
the cleanup step, or by the sweep when its time to live ends; one a lost drill left behind is
reported as an orphan."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.core.management import call_command

from drills.models import Drill, DrillResource
from drills.resources import find_orphans
from tests.actions.azure.conftest import example
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker

NO_CLEANUP = {"""      - key: cleanup
        name: Delete the restored copy
        action: azure.cleanup
        params: {target: db}
        timeout: 1h
""": ""}


def restored_name(drill: Drill) -> str:
    return f"orders-drill-{drill.pk}"


def test_a_restore_drill_measures_rpo_from_the_restore_point_and_deletes_the_copy(azure_worker, arm, orders_sql, start_drill):
    orders_sql(example("point-in-time-restore.yaml"))

    drill = wait_for_drill(start_drill("orders-sql-point-in-time-restore"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    steps = {run.step.key: run for run in drill.step_runs.select_related("step")}
    restore = steps["restore"].evidence
    assert restore["tags"] == {"drdrill:drill": str(drill.pk), "drdrill:step": "restore"}
    assert restore["source"]["earliest_restore_date"] <= restore["source"]["restore_point"]
    assert [op.kind for op in arm.started] == ["restore", "delete"]

    rpo = drill.measurements.get(kind="rpo")
    outage = datetime.fromisoformat(steps["incident"].marks["outage_start"])
    restored_to = datetime.fromisoformat(restore["rpo_recovered_to"])
    assert rpo.value_seconds == pytest.approx((outage - restored_to).total_seconds())
    assert 100 < rpo.value_seconds < 200  # two minutes before the restore began, a moment after the incident
    assert rpo.method.startswith("point-in-time restore")
    assert rpo.evidence["outage_start"] == outage.isoformat()
    assert rpo.evidence["recovered_to_after_outage_start"] is False

    resource = DrillResource.objects.get(drill=drill)
    assert resource.identifier == restore["new_database_id"]
    assert resource.status == DrillResource.Status.DELETED
    assert (resource.expires_at - resource.created_at).total_seconds() == 14400
    assert arm.database("orders-sql-weu", restored_name(drill)) is None
    assert steps["cleanup"].evidence["deleted"] == [resource.identifier]


def test_a_dry_run_restore_checks_the_window_and_creates_nothing(azure_worker, arm, orders_sql, start_drill):
    orders_sql(example("point-in-time-restore.yaml"))

    drill = wait_for_drill(start_drill("orders-sql-point-in-time-restore", mode="dry_run"), timeout=90)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert arm.writes == [] and not DrillResource.objects.filter(drill=drill).exists()
    plan = drill.step_runs.get(step__key="restore").evidence
    assert plan["would"].startswith(f"create database {restored_name(drill)} on orders-sql-weu from orders as it was at ")


def test_the_sweep_deletes_a_restored_database_when_its_time_to_live_ends(azure_worker, arm, orders_sql, start_drill):
    orders_sql(example("point-in-time-restore.yaml", **NO_CLEANUP, **{"ttl_seconds: 14400": "ttl_seconds: 1"}))
    # Operations that finish at their first look: the sweep deletes within one call (a deletion
    # still under way is looked at again LOOK_AGAIN_AFTER later, by the same operation).
    arm.in_progress_looks = 0

    drill = wait_for_drill(start_drill("orders-sql-point-in-time-restore"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    resource = DrillResource.objects.get(drill=drill)
    wait_until(lambda: DrillResource.objects.get(pk=resource.pk).status == DrillResource.Status.DELETED, timeout=60,
               message="the sweep to delete the expired database")
    assert arm.database("orders-sql-weu", restored_name(drill)) is None
    assert [op.kind for op in arm.started] == ["restore", "delete"]


def test_a_database_a_lost_drill_left_behind_is_reported_as_an_orphan(azure_worker, arm, orders_sql, start_drill):
    # The drill fails after its restore, before any cleanup: the database stays, tagged.
    failing = example("point-in-time-restore.yaml", **NO_CLEANUP) + """      - key: verify
        name: Verify the restored orders
        action: http.request
        params: {url: "http://127.0.0.1:9/unreachable", timeout: 1}
"""
    orders_sql(failing)
    drill = wait_for_drill(start_drill("orders-sql-point-in-time-restore"), timeout=120)
    assert drill.status == Drill.Status.FAILED
    unknown = arm.add_database("orders-sql-neu", "orders-drill-424242", {"drdrill:drill": "424242", "drdrill:step": "restore"})
    arm.add_database("orders-sql-neu", "reporting", {"team": "finance"})  # not ours: never reported

    orphans = {o.resource.identifier: o for o in find_orphans()}

    ours = f"{arm.server_id('orders-sql-weu')}/databases/{restored_name(drill)}"
    assert set(orphans) == {ours, unknown}
    assert orphans[ours].reason == f"drill #{drill.pk} failed without deleting it"
    assert orphans[unknown].reason == "tagged with drill 424242, which drdrill has no record of"
    out = io.StringIO()
    call_command("resources", "orphans", stdout=out)
    assert f"ORPHAN azure sql-database {unknown}: tagged with drill 424242" in out.getvalue()
