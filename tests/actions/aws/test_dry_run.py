"""A dry-run of an AWS runbook against moto's server proves the resources exist and the steps can
succeed with read-only calls, says what a live run would change, and changes nothing."""

from __future__ import annotations

import pytest

from drills.models import Drill, DrillResource
from tests.support.aws_moto import ACCOUNT, cluster_binding, instance_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

READ_ONLY = ("Describe", "List", "Get")
STEPS = """
      - key: failover
        name: Fail the orders database over
        action: aws.rds.failover_cluster
        params: {target: orders, to_instance: orders-db-2}
      - key: reboot
        name: Reboot billing onto its standby
        action: aws.rds.reboot_with_failover
        params: {target: billing}
      - key: restore
        name: Restore billing to its latest restorable time
        action: aws.rds.restore_point_in_time
        params: {target: billing}
      - key: switch
        name: Switch api to the secondary
        action: aws.route53.failover
        params: {target: api, mode: records}
      - key: cleanup
        name: Delete what the drill created
        action: aws.cleanup
"""


def test_a_dry_run_checks_every_resource_and_changes_nothing(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    aws.multi_az_instance("billing-db")
    records = aws.failover_records()
    api = {"kind": "aws-route53-record", "account": ACCOUNT, "hosted_zone_id": records["zone"],
           "record_name": records["record"], "primary_set_identifier": "primary-eu", "secondary_set_identifier": "secondary-eu"}
    import_yaml(system_yaml({"orders": cluster_binding(), "billing": instance_binding(), "api": api}), runbook_yaml(STEPS))
    aws_proxy.reset()

    drill = wait_for_drill(start_drill("aws-drill", mode=Drill.Mode.DRY_RUN))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    said = {run.step.key: run.evidence for run in drill.step_runs.select_related("step")}
    assert said["failover"]["would"] == ("fail Aurora cluster orders-db (account 123456789012, eu-west-1) over from "
                                         "orders-db-1 to orders-db-2 and wait until orders-db-2 writes")
    assert said["reboot"]["would"].startswith("reboot RDS instance billing-db (account 123456789012, eu-west-1) with ForceFailover")
    assert said["restore"]["would"].startswith(f"restore RDS instance billing-db (account 123456789012, eu-west-1) to "
                                               f"{said['restore']['latest_restorable_time']} as the new instance "
                                               f"billing-db-d{drill.pk}-restore")
    assert said["switch"]["primary_now"] == "primary-eu"
    # Only reads reached AWS, and nothing changed.
    assert aws_proxy.operations() and all(op.startswith(READ_ONLY) for op in aws_proxy.operations()), aws_proxy.operations()
    assert aws.writer("orders-db") == "orders-db-1"
    assert aws.instance_names() == ["billing-db", "orders-db-1", "orders-db-2"]
    assert aws.failover_roles(records["zone"], records["record"]) == {"primary-eu": "PRIMARY", "secondary-eu": "SECONDARY"}
    assert not DrillResource.objects.exists()


def test_a_dry_run_fails_on_a_missing_cluster_and_on_a_restore_without_backups(worker, aws, import_yaml, start_drill):
    aws.multi_az_instance("billing-db", backups=0)
    import_yaml(system_yaml({"orders": cluster_binding(), "billing": instance_binding()}), runbook_yaml("""
      - key: failover
        name: Fail the orders database over
        action: aws.rds.failover_cluster
        params: {target: orders}
        group: checks
      - key: restore
        name: Restore billing to its latest restorable time
        action: aws.rds.restore_point_in_time
        params: {target: billing}
        group: checks
"""))

    drill = wait_for_drill(start_drill("aws-drill", mode=Drill.Mode.DRY_RUN))

    assert drill.status == Drill.Status.FAILED
    errors = {run.step.key: run.error for run in drill.step_runs.select_related("step")}
    assert errors["failover"].startswith("Aurora cluster orders-db (account 123456789012, eu-west-1) was not found")
    assert errors["restore"] == ("RDS instance billing-db (account 123456789012, eu-west-1) has automated backups turned off "
                                 "(BackupRetentionPeriod 0): it cannot be restored to a point in time")
