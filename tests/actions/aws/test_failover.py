"""Aurora and Multi-AZ failover drills through real workers against moto's server: the writer
really moves (moto's failover_db_cluster moves it), and a Multi-AZ reboot is asked for once."""

from __future__ import annotations

import pytest

from drills.models import Drill
from runbooks.actions import get_action
from tests.support.aws_moto import cluster_binding, instance_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

FAILOVER_STEPS = """
      - key: failover
        name: Fail the orders database over to its second instance
        action: aws.rds.failover_cluster
        params: {target: orders, to_instance: orders-db-2, poll_interval: 0.5}
        marks: [outage_start]
      - key: available
        name: Wait until the cluster is available
        action: aws.rds.wait_available
        params: {target: orders, poll_interval: 0.5}
        marks: [service_restored]
"""


def test_an_aurora_failover_drill_moves_the_writer(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    assert aws.writer("orders-db") == "orders-db-1"
    import_yaml(system_yaml({"orders": cluster_binding()}), runbook_yaml(FAILOVER_STEPS))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws.writer("orders-db") == "orders-db-2"
    assert aws_proxy.count("FailoverDBCluster") == 1
    step = drill.step_runs.get(step__key="failover")
    assert step.evidence["writer_before"] == "orders-db-1"
    assert step.evidence["writer"] == "orders-db-2"
    assert step.evidence["failed_over_by_an_earlier_attempt"] is False
    assert step.marks["outage_start"] == step.evidence["failover_requested_at"]
    rto = drill.measurements.get(kind="rto")
    assert rto.value_seconds is not None and rto.value_seconds >= 0


def test_a_failover_to_the_instance_that_already_writes_changes_nothing(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    import_yaml(system_yaml({"orders": cluster_binding()}),
                runbook_yaml(FAILOVER_STEPS.replace("to_instance: orders-db-2", "to_instance: orders-db-1")))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws_proxy.count("FailoverDBCluster") == 0
    assert drill.step_runs.get(step__key="failover").evidence["already_writer"] is True
    assert aws.writer("orders-db") == "orders-db-1"


def test_without_a_chosen_instance_the_first_reader_in_promotion_order_takes_over(worker, aws, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=3)
    aws.rds.modify_db_instance(DBInstanceIdentifier="orders-db-2", PromotionTier=5, ApplyImmediately=True)
    aws.rds.modify_db_instance(DBInstanceIdentifier="orders-db-3", PromotionTier=0, ApplyImmediately=True)
    import_yaml(system_yaml({"orders": cluster_binding()}),
                runbook_yaml(FAILOVER_STEPS.replace(", to_instance: orders-db-2", "")))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws.writer("orders-db") == "orders-db-3"


def test_a_multi_az_reboot_drill_asks_for_one_reboot_with_failover(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.multi_az_instance("billing-db")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml("""
      - key: reboot
        name: Reboot the billing database onto its standby
        action: aws.rds.reboot_with_failover
        params: {target: billing, poll_interval: 0.5}
        marks: [outage_start, service_restored]
"""))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws_proxy.count("RebootDBInstance") == 1
    step = drill.step_runs.get(step__key="reboot")
    assert step.evidence["rebooted_by_an_earlier_attempt"] is False
    assert step.evidence["zone_before"] == step.evidence["zone_after"] or step.evidence["zone_changed"]
    # moto reboots in place (its reboot_db_instance ignores ForceFailover): the zone is reported, not assumed.
    assert "zone_changed" in step.evidence
    arn = aws.rds.describe_db_instances(DBInstanceIdentifier="billing-db")["DBInstances"][0]["DBInstanceArn"]
    assert aws.tags(arn)["drdrill:reboot-requested"].startswith(f"drdrill-drill-{drill.pk}-")


def test_a_reboot_of_an_instance_that_is_not_multi_az_is_refused_before_anything_changes(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.rds.create_db_instance(DBInstanceIdentifier="billing-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="b", MasterUserPassword="not-a-real-password")
    import_yaml(system_yaml({"billing": instance_binding()}), runbook_yaml("""
      - key: reboot
        name: Reboot the billing database onto its standby
        action: aws.rds.reboot_with_failover
        params: {target: billing}
"""))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.FAILED
    step = drill.step_runs.get(step__key="reboot")
    assert "RDS instance billing-db (account 123456789012, eu-west-1) is not Multi-AZ" in step.error
    assert aws_proxy.count("RebootDBInstance") == 0


def test_describe_says_what_each_failover_would_do_in_plain_words():
    targets = {"orders": cluster_binding(), "billing": instance_binding()}
    failover = get_action("aws.rds.failover_cluster")
    assert failover.describe(failover.Params(target="orders", to_instance="orders-db-2"), targets) == \
        "fails Aurora cluster orders-db over to instance orders-db-2 in eu-west-1"
    reboot = get_action("aws.rds.reboot_with_failover")
    assert reboot.describe(reboot.Params(target="billing"), targets) == \
        "reboots RDS instance billing-db with failover to its Multi-AZ standby in eu-west-1"


def test_a_binding_with_a_role_acts_through_the_assumed_role(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    role = cluster_binding(role_arn="arn:aws:iam::123456789012:role/drdrill-drills", external_id="shop-drills")
    import_yaml(system_yaml({"orders": role}), runbook_yaml(FAILOVER_STEPS))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws.writer("orders-db") == "orders-db-2"
    # The role was assumed (once per worker process at most), then its account checked before acting.
    operations = aws_proxy.operations()
    assert 1 <= operations.count("AssumeRole") <= 3
    assert operations.index("AssumeRole") < operations.index("FailoverDBCluster")
