"""What AWS drills create is deleted: by an aws.cleanup step, or by the sweep once its time to live
ends; what a lost drill left behind is found as an orphan; and nothing drdrill did not create for
that drill is ever deleted."""

from __future__ import annotations

import pytest

from drills.models import Drill, DrillResource
from drills.resources import find_orphans
from drills.services import abort_drill
from runbooks.actions import ActionFailed, CreatedResource
from runbooks.actions.aws.cleanup import delete_resource
from tests.support.aws_moto import ACCOUNT, REGION, cluster_binding, instance_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker

RESTORE = """
      - key: restore
        name: Restore billing
        action: aws.rds.restore_point_in_time
        params: {{target: billing, poll_interval: 0.5{ttl}}}
"""


def test_a_cleanup_step_deletes_what_the_drill_created(worker, aws, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    aws.aurora_cluster("orders-db", instances=2)
    import_yaml(system_yaml({"billing": instance_binding(), "orders": cluster_binding()}), runbook_yaml(
        RESTORE.format(ttl="") + """
      - key: snapshot
        name: Snapshot the orders cluster
        action: aws.rds.create_snapshot
        params: {target: orders, poll_interval: 0.5}
      - key: restore-orders
        name: Restore the orders cluster
        action: aws.rds.restore_snapshot
        params: {target: orders, poll_interval: 0.5}
      - key: cleanup
        name: Delete what the drill created
        action: aws.cleanup
        params: {poll_interval: 0.5}
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"), timeout=90)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    created = DrillResource.objects.filter(drill=drill)
    assert sorted(created.values_list("kind", flat=True)) == ["db-cluster", "db-cluster-snapshot", "db-instance", "db-instance"]
    assert set(created.values_list("status", flat=True)) == {"deleted"}
    assert sorted(drill.step_runs.get(step__key="cleanup").evidence["deleted"]) == sorted(created.values_list("identifier", flat=True))
    # Only the sources are left.
    assert aws.instance_names() == ["billing-db", "orders-db-1", "orders-db-2"]
    assert aws.cluster_names() == ["orders-db"]
    assert aws.rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_the_sweep_deletes_a_restore_whose_time_to_live_ended(worker, aws, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml(RESTORE.format(ttl=", ttl: 2"), kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))
    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    resource = DrillResource.objects.get(drill=drill)

    wait_until(lambda: DrillResource.objects.get(pk=resource.pk).status == DrillResource.Status.DELETED, timeout=60,
               message="the sweep to delete the expired restore")
    assert f"billing-db-d{drill.pk}-restore" not in aws.instance_names()
    assert drill.events.filter(kind="resource.deleted").exists()


def test_a_restore_left_behind_by_an_aborted_drill_is_found_as_an_orphan(worker, aws, import_yaml, start_drill, coordinator):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml(RESTORE.format(ttl="") + """
      - key: check
        name: Check the restored copy by hand
        action: manual.confirm
        params: {instructions: Look at the restored billing copy}
""", kind="backup_restore"))
    drill = wait_for_drill(start_drill("aws-drill"), statuses=("waiting",))
    restored = drill.step_runs.get(step__key="restore").evidence["arn"]
    assert find_orphans() == []  # its drill is still running: not an orphan

    abort_drill(drill=drill, user=coordinator, reason="the drill coordinator was called away")

    orphans = find_orphans()
    assert [(o.resource.identifier, o.resource.kind, o.drill_id) for o in orphans] == [(restored, "db-instance", drill.pk)]
    assert orphans[0].reason == f"drill #{drill.pk} aborted without deleting it"


def test_a_restore_tagged_by_a_drill_drdrill_has_no_record_of_is_an_orphan(worker, aws, import_yaml):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml(RESTORE.format(ttl=""), kind="backup_restore"))
    aws.rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="billing-db", TargetDBInstanceIdentifier="lost-copy",
                                                 UseLatestRestorableTime=True,
                                                 Tags=[{"Key": "drdrill:drill", "Value": "987654"}])

    orphans = find_orphans()

    assert [o.resource.details["name"] for o in orphans] == ["lost-copy"]
    assert orphans[0].reason == "tagged with drill 987654, which drdrill has no record of"


def test_a_resource_without_the_drills_tag_is_never_deleted(aws):
    production = aws.multi_az_instance("billing-db")
    record = CreatedResource(provider="aws", kind="db-instance", identifier=production["DBInstanceArn"], target="billing",
                             region=REGION, account=ACCOUNT, details={"drill": "41", "name": "billing-db"})

    with pytest.raises(ActionFailed, match=r"refusing to delete db-instance billing-db \(account 123456789012, eu-west-1\): "
                                           r"it carries the tag drdrill:drill=none, not 41"):
        delete_resource(record, instance_binding())

    assert aws.instance_names() == ["billing-db"]
