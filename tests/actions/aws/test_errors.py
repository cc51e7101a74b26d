"""What AWS refuses becomes a step failure a coordinator can act on: the message names the resource
and, for AccessDenied, the IAM action to allow. Throttling is retried by botocore's standard mode
and the step succeeds. Errors come from moto itself (a missing cluster, a cluster that cannot fail
over) or, for what moto does not enforce (IAM, rate limits), from the proxy in front of it, which
answers in the exact shape AWS uses."""

from __future__ import annotations

import pytest

from drills.models import Drill
from tests.support.aws_moto import cluster_binding, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

FAILOVER = """
      - key: failover
        name: Fail the orders database over
        action: aws.rds.failover_cluster
        params: {target: orders, to_instance: orders-db-2, poll_interval: 0.5}
"""


def run_failover(import_yaml, start_drill, binding=None) -> Drill:
    import_yaml(system_yaml({"orders": binding or cluster_binding()}), runbook_yaml(FAILOVER))
    return wait_for_drill(start_drill("aws-drill"))


def test_a_missing_cluster_fails_the_step_naming_it(worker, aws, import_yaml, start_drill):
    drill = run_failover(import_yaml, start_drill, cluster_binding("orders-gone"))

    assert drill.status == Drill.Status.FAILED
    error = drill.step_runs.get(step__key="failover").error
    assert error.startswith("Aurora cluster orders-gone (account 123456789012, eu-west-1) was not found "
                            "(rds:DescribeDBClusters: DBClusterNotFoundFault")


def test_access_denied_names_the_resource_and_the_iam_action_to_allow(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    aws_proxy.fail("FailoverDBCluster", "AccessDenied", status=403, times=10, message=(
        "User: arn:aws:sts::123456789012:assumed-role/drdrill-worker/drdrill is not authorized to perform: "
        "rds:FailoverDBCluster on resource: arn:aws:rds:eu-west-1:123456789012:cluster:orders-db"))

    drill = run_failover(import_yaml, start_drill)

    assert drill.status == Drill.Status.FAILED
    error = drill.step_runs.get(step__key="failover").error
    assert error.startswith("AWS denied rds:FailoverDBCluster on Aurora cluster orders-db (account 123456789012, eu-west-1): "
                            "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/drdrill-worker/drdrill is not authorized")
    assert error.endswith("Allow rds:FailoverDBCluster to the role the worker uses (the IAM policy in docs/actions-aws.md)")
    assert aws_proxy.count("FailoverDBCluster") == 1  # denied is not retried
    assert aws.writer("orders-db") == "orders-db-1"


def test_throttling_is_retried_and_the_step_succeeds(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    aws_proxy.fail("FailoverDBCluster", "Throttling", status=400, times=2, message="Rate exceeded")

    drill = run_failover(import_yaml, start_drill)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws_proxy.count("FailoverDBCluster") == 3  # two throttled, the third applied
    assert aws.writer("orders-db") == "orders-db-2"
    step = drill.step_runs.get(step__key="failover")
    assert step.attempt == 1  # retried inside the call by botocore, not by the engine


def test_throttling_that_does_not_stop_fails_the_step_saying_so(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    aws_proxy.fail("FailoverDBCluster", "Throttling", status=400, times=100, message="Rate exceeded")

    drill = run_failover(import_yaml, start_drill)

    assert drill.status == Drill.Status.FAILED
    assert drill.step_runs.get(step__key="failover").error == (
        "AWS throttled rds:FailoverDBCluster on Aurora cluster orders-db (account 123456789012, eu-west-1) "
        "(Throttling) after 4 attempts; retry the step later")
    assert aws_proxy.count("FailoverDBCluster") == 4


def test_a_cluster_in_a_state_that_cannot_fail_over_fails_the_step_and_changes_nothing(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)
    # moto answers as AWS does when an instance cannot take over: InvalidDBInstanceState.
    aws_proxy.fail("FailoverDBCluster", "InvalidDBClusterStateFault", message=(
        "Database cluster:orders-db should have at least two database instances in valid states"))

    drill = run_failover(import_yaml, start_drill)

    assert drill.status == Drill.Status.FAILED
    assert drill.step_runs.get(step__key="failover").error.startswith(
        "Aurora cluster orders-db (account 123456789012, eu-west-1) is not in a state that allows rds:FailoverDBCluster: "
        "InvalidDBClusterStateFault: Database cluster:orders-db should have at least two")
    assert aws.writer("orders-db") == "orders-db-1"


def test_a_cluster_with_no_reader_fails_before_asking_aws(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=1)
    import_yaml(system_yaml({"orders": cluster_binding()}), runbook_yaml(FAILOVER.replace(", to_instance: orders-db-2", "")))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.FAILED
    assert drill.step_runs.get(step__key="failover").error == (
        "Aurora cluster orders-db (account 123456789012, eu-west-1) has no reader to fail over to "
        "(members: orders-db-1); nothing was changed")
    assert aws_proxy.count("FailoverDBCluster") == 0


def test_credentials_of_another_account_are_refused_before_any_call(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.aurora_cluster("orders-db", instances=2)

    drill = run_failover(import_yaml, start_drill, cluster_binding(account="210987654321"))

    assert drill.status == Drill.Status.FAILED
    assert drill.step_runs.get(step__key="failover").error == (
        "target 'orders' names AWS account 210987654321, but the worker's credentials act in account 123456789012; "
        "nothing was done. Give the worker credentials for 210987654321 (or a role_arn in it)")
    assert [op for op in aws_proxy.operations() if op != "GetCallerIdentity"] == []
