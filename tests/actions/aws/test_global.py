"""Aurora Global Database switchover and failover. moto (5.2) implements create/describe of global
clusters but not SwitchoverGlobalCluster nor FailoverGlobalCluster, so these tests run the actions
in this process with botocore's Stubber on the very RDS client the action uses (the family's own
client cache), answering with the real response shapes of the RDS API (the Stubber validates both
the requests and the responses against botocore's service model). STS and CloudWatch still go to
moto's server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.stub import Stubber

from drills.clock import db_now
from runbooks.actions import Done, PollAgain, StepContext, get_action
from runbooks.actions.aws.bindings import AwsTarget
from runbooks.actions.aws.client import client_for
from runbooks.actions.policy import CloudAccess
from tests.support.aws_moto import ACCOUNT, REGION

PRIMARY = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:orders-eu"
SECONDARY = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders-us"
BINDING = {"kind": "aws-rds-global-cluster", "account": ACCOUNT, "region": REGION, "global_cluster": "orders-global"}


def global_cluster(writer: str, failover: dict | None = None) -> dict:
    """A DescribeGlobalClusters entry as RDS returns it."""
    members = [{"DBClusterArn": arn, "Readers": [] if arn == writer else [writer], "IsWriter": arn == writer,
                "GlobalWriteForwardingStatus": "disabled", "SynchronizationStatus": "connected"}
               for arn in (PRIMARY, SECONDARY)]
    cluster = {"GlobalClusterIdentifier": "orders-global", "GlobalClusterResourceId": "cluster-1a2b3c4d5e6f",
               "GlobalClusterArn": f"arn:aws:rds::{ACCOUNT}:global-cluster:orders-global",
               "Status": "available" if failover is None else "failing-over", "Engine": "aurora-postgresql",
               "EngineVersion": "15.4", "StorageEncrypted": True, "DeletionProtection": False,
               "GlobalClusterMembers": members}
    if failover:
        cluster["FailoverState"] = failover
    return cluster


def context(state: dict | None = None) -> StepContext:
    return StepContext(drill_id=7, step_key="switch", attempt=1, targets={"orders-global": BINDING}, earlier={},
                       state=state or {}, idempotency_key="drdrill-drill-7-step-70", now=db_now,
                       started_at=datetime.now(timezone.utc))


@pytest.fixture
def stubbed(aws):
    client = client_for(AwsTarget("orders-global", BINDING), "rds")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def describe(stubber: Stubber, cluster: dict) -> None:
    stubber.add_response("describe_global_clusters", {"GlobalClusters": [cluster]},
                         {"GlobalClusterIdentifier": "orders-global"})


@pytest.mark.django_db
def test_a_switchover_is_asked_for_once_and_done_when_the_secondary_writes(stubbed):
    action = get_action("aws.rds.global_switchover")
    params = action.Params(target="orders-global", to_cluster=SECONDARY)
    in_progress = {"Status": "pending", "FromDbClusterArn": PRIMARY, "ToDbClusterArn": SECONDARY, "IsDataLossAllowed": False}
    describe(stubbed, global_cluster(PRIMARY))
    describe(stubbed, global_cluster(PRIMARY))
    stubbed.add_response("switchover_global_cluster", {"GlobalCluster": global_cluster(PRIMARY, in_progress)},
                         {"GlobalClusterIdentifier": "orders-global", "TargetDbClusterIdentifier": SECONDARY})
    describe(stubbed, global_cluster(PRIMARY, in_progress))
    describe(stubbed, global_cluster(SECONDARY))

    looked = action.run(params, context())
    assert isinstance(looked, PollAgain) and looked.state["writer_before"] == PRIMARY
    asked = action.poll(params, context(looked.state))
    assert isinstance(asked, PollAgain) and "requested_at" in asked.state
    # The same poll redelivered with the state from before the request: the switch is in progress, no second call.
    waiting = action.poll(params, context(looked.state))
    assert isinstance(waiting, PollAgain) and "requested_at" not in waiting.state
    done = action.poll(params, context(asked.state))

    assert isinstance(done, Done)
    assert done.evidence["writer"] == SECONDARY and done.evidence["writer_before"] == PRIMARY
    assert done.evidence["rpo_seconds"] == 0.0
    assert done.marks["outage_start"] == datetime.fromisoformat(asked.state["requested_at"])


@pytest.mark.django_db
def test_a_failover_allows_data_loss_and_reports_the_rpo_lag_from_cloudwatch(stubbed, aws):
    aws.client("cloudwatch", region="us-east-1").put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "AuroraGlobalDBRPOLag", "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "orders-us"}],
         "Value": 1800.0, "Unit": "Milliseconds"}])
    action = get_action("aws.rds.global_failover")
    params = action.Params(target="orders-global", to_cluster=SECONDARY)
    describe(stubbed, global_cluster(PRIMARY))
    describe(stubbed, global_cluster(PRIMARY))
    stubbed.add_response("failover_global_cluster", {"GlobalCluster": global_cluster(PRIMARY)},
                         {"GlobalClusterIdentifier": "orders-global", "TargetDbClusterIdentifier": SECONDARY,
                          "AllowDataLoss": True})
    describe(stubbed, global_cluster(SECONDARY))

    looked = action.run(params, context())
    asked = action.poll(params, context(looked.state))
    done = action.poll(params, context(asked.state))

    assert isinstance(done, Done)
    assert done.evidence["rpo_seconds"] == 1.8
    assert done.evidence["rpo_method"].startswith("AWS metadata: AuroraGlobalDBRPOLag of the new writer")
    assert done.evidence["lag_source"] == ("CloudWatch AWS/RDS AuroraGlobalDBRPOLag (DBClusterIdentifier=orders-us), "
                                           "maximum over 5 minutes")


@pytest.mark.django_db
def test_a_cluster_that_already_writes_is_left_alone(stubbed):
    action = get_action("aws.rds.global_switchover")
    describe(stubbed, global_cluster(SECONDARY))

    done = action.run(action.Params(target="orders-global", to_cluster=SECONDARY), context())

    assert isinstance(done, Done) and done.evidence["already_writer"] is True


def test_the_secondary_region_is_an_access_the_policy_checks_and_describe_names_it():
    action = get_action("aws.rds.global_failover")
    params = action.Params(target="orders-global", to_cluster=SECONDARY)
    assert action.touches(params, context()) == [CloudAccess("aws", ACCOUNT, "us-east-1")]
    assert action.describe(params, {"orders-global": BINDING}) == \
        "fails over Aurora global database orders-global to cluster orders-us in us-east-1"
