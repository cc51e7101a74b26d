"""Point-in-time and snapshot restores through real workers against moto's server: a new instance
or cluster appears, tagged with the drill and recorded with its time to live, and the drill's RPO is
measured from AWS's own metadata (the restore point, the snapshot's creation time)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from drills.models import Drill, DrillResource
from runbooks.actions import get_action
from tests.support.aws_moto import cluster_binding, instance_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


def test_a_point_in_time_restore_drill_reports_its_rpo_from_the_restore_metadata(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml("""
      - key: restore
        name: Restore billing to its latest restorable time
        action: aws.rds.restore_point_in_time
        params: {target: billing, poll_interval: 0.5, ttl: 3600}
        marks: [service_restored]
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    restored = f"billing-db-d{drill.pk}-restore"
    assert restored in aws.instance_names()
    step = drill.step_runs.get(step__key="restore")
    evidence = step.evidence
    assert evidence["restored"] == restored and evidence["use_latest"] is True
    assert evidence["restore_point"] == evidence["latest_restorable_time"]
    expected = (datetime.fromisoformat(evidence["requested_at"]) - datetime.fromisoformat(evidence["restore_point"])).total_seconds()
    rpo = drill.measurements.get(kind="rpo")
    assert rpo.value_seconds == pytest.approx(max(expected, 0.0))
    assert rpo.method.startswith("AWS metadata: restore requested at − restore point")
    assert rpo.evidence["latest_restorable_time"] == evidence["latest_restorable_time"]
    # Tagged with the drill, recorded with its time to live, listed as the drill's resource.
    tags = aws.tags(evidence["arn"])
    assert tags["drdrill:drill"] == str(drill.pk) and tags["drdrill:step"] == "restore"
    resource = DrillResource.objects.get(drill=drill)
    assert (resource.provider, resource.kind, resource.identifier) == ("aws", "db-instance", evidence["arn"])
    assert resource.expires_at - resource.created_at == timedelta(seconds=3600)
    assert aws_proxy.count("RestoreDBInstanceToPointInTime") == 1


def test_a_restore_to_a_chosen_time_measures_from_that_time(worker, aws, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    latest = aws.rds.describe_db_instances(DBInstanceIdentifier="billing-db")["DBInstances"][0]["InstanceCreateTime"]
    chosen = (latest + timedelta(microseconds=1)).isoformat()
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml(f"""
      - key: restore
        name: Restore billing to a chosen time
        action: aws.rds.restore_point_in_time
        params: {{target: billing, restore_time: "{chosen}", poll_interval: 0.5}}
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    evidence = drill.step_runs.get(step__key="restore").evidence
    assert datetime.fromisoformat(evidence["restore_point"]) == datetime.fromisoformat(chosen)
    assert evidence["use_latest"] is False
    rpo = drill.measurements.get(kind="rpo")
    assert rpo.value_seconds == pytest.approx(
        (datetime.fromisoformat(evidence["requested_at"]) - datetime.fromisoformat(chosen)).total_seconds())


def test_a_snapshot_restore_drill_reports_its_rpo_from_the_snapshot_time(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml("""
      - key: snapshot
        name: Take a snapshot of billing
        action: aws.rds.create_snapshot
        params: {target: billing, poll_interval: 0.5}
      - key: restore
        name: Restore the snapshot as a new instance
        action: aws.rds.restore_snapshot
        params: {target: billing, poll_interval: 0.5}
      - key: available
        name: Wait for the restored copy
        action: aws.rds.wait_available
        params: {target: billing, from_step: restore, poll_interval: 0.5}
        marks: [service_restored]
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    snapshot = drill.step_runs.get(step__key="snapshot").evidence
    restore = drill.step_runs.get(step__key="restore").evidence
    # The drill's own snapshot was chosen over any other, and the RPO runs from its creation time.
    assert restore["snapshot"] == snapshot["snapshot"] == f"billing-db-d{drill.pk}-snapshot"
    assert restore["snapshot_create_time"] == snapshot["snapshot_create_time"]
    rpo = drill.measurements.get(kind="rpo")
    assert rpo.method == "AWS metadata: restore requested at − the snapshot's SnapshotCreateTime"
    assert rpo.value_seconds == pytest.approx((datetime.fromisoformat(restore["requested_at"])
                                               - datetime.fromisoformat(snapshot["snapshot_create_time"])).total_seconds())
    assert drill.step_runs.get(step__key="available").evidence["available"] == restore["restored"]
    kinds = sorted(DrillResource.objects.filter(drill=drill).values_list("kind", flat=True))
    assert kinds == ["db-instance", "db-snapshot"]
    assert aws_proxy.count("CreateDBSnapshot") == 1 and aws_proxy.count("RestoreDBInstanceFromDBSnapshot") == 1


def test_a_cluster_restore_adds_an_instance_and_records_both(worker, aws, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    import_yaml(system_yaml({"orders": cluster_binding()}), runbook_yaml("""
      - key: restore
        name: Restore the orders cluster
        action: aws.rds.restore_point_in_time
        params: {target: orders, poll_interval: 0.5}
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    restored = f"orders-db-d{drill.pk}-restore"
    assert restored in aws.cluster_names()
    assert f"{restored}-1" in aws.instance_names()
    instance = aws.rds.describe_db_instances(DBInstanceIdentifier=f"{restored}-1")["DBInstances"][0]
    assert instance["DBInstanceClass"] == "db.r6g.large"
    assert sorted(DrillResource.objects.filter(drill=drill).values_list("kind", flat=True)) == ["db-cluster", "db-instance"]


def test_a_restore_never_adopts_a_copy_this_drill_did_not_make(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    aws.multi_az_instance("billing-copy")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml("""
      - key: restore
        name: Restore billing
        action: aws.rds.restore_point_in_time
        params: {target: billing, name: billing-copy, poll_interval: 0.5}
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.FAILED
    assert "RDS instance billing-copy (account 123456789012, eu-west-1) already exists and was not created by this drill" \
        in drill.step_runs.get(step__key="restore").error
    assert aws_proxy.count("RestoreDBInstanceToPointInTime") == 0
    assert not DrillResource.objects.exists()


def test_describe_says_what_each_restore_would_do():
    targets = {"billing": instance_binding(), "orders": cluster_binding()}
    restore = get_action("aws.rds.restore_point_in_time")
    assert restore.describe(restore.Params(target="orders"), targets) == (
        "restores Aurora cluster orders-db to its latest restorable time as a new copy in eu-west-1, "
        "deleted after 4 h 00 m at the latest")
    snapshot = get_action("aws.rds.restore_snapshot")
    assert snapshot.describe(snapshot.Params(target="billing", snapshot="nightly", ttl=600), targets) == (
        "restores snapshot nightly of RDS instance billing-db as a new copy in eu-west-1, deleted after 10 m 00 s at the latest")
