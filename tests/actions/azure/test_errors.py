"""What a participant reads when Azure says no: an operation that ends Failed, a missing role (403),
a resource that is not there (404), throttling (429). Each fails the step with Azure's error code
and the resource's name, and starts nothing it should not."""

from __future__ import annotations

import pytest

from drills.models import Drill
from runbooks.actions import ActionFailed
from tests.actions.azure.conftest import drive, fast, targets
from tests.support.waiting import wait_for_drill


@pytest.mark.worker
def test_a_failed_operation_fails_the_step_with_azures_error_code(azure_worker, arm, orders_sql, start_drill):
    orders_sql(fast("failover-group.yaml"))
    arm.fail_next("failover", "FailoverGroupCannotFailover",
                  "Failover group 'orders-fog' cannot fail over: a database of the group is being scaled.")

    drill = wait_for_drill(start_drill("orders-sql-failover"), timeout=120)

    assert drill.status == Drill.Status.FAILED
    step = drill.step_runs.get(step__key="failover")
    assert step.error == ("planned failover of failover group orders-fog to server orders-sql-neu ended Failed: "
                          "Azure error FailoverGroupCannotFailover: Failover group 'orders-fog' cannot fail over: "
                          "a database of the group is being scaled.")
    assert arm.primary() == "orders-sql-weu" and len(arm.started) == 1


def test_a_missing_role_names_the_action_the_resource_and_the_fix(arm):
    arm.deny("/servers/orders-sql-neu/failoverGroups/")

    with pytest.raises(ActionFailed) as refused:
        drive("azure.sql.failover_group", {"target": "fog", "request_timeout": 2})

    message = str(refused.value)
    assert message.startswith("reading failover group orders-fog on server orders-sql-neu: Azure answered 403 "
                              "AuthorizationFailed: ")
    assert "'Microsoft.Sql/servers/failoverGroups/read'" in message
    assert "lacks the Azure role" in message and "docs/actions-azure.md" in message
    assert arm.writes == []


def test_a_failover_group_that_does_not_exist_is_a_404_naming_it(arm):
    bindings = targets()
    bindings["fog"]["failover_group"] = "orders-fgo"

    with pytest.raises(ActionFailed) as failed:
        drive("azure.sql.force_failover", {"target": "fog", "request_timeout": 2}, bindings=bindings)

    assert str(failed.value).startswith("reading failover group orders-fgo on server orders-sql-neu: Azure answered "
                                        "404 ResourceNotFound: The Resource 'Microsoft.Sql/servers/failoverGroups/orders-fgo'")
    assert "check the target's subscription, resource group and names" in str(failed.value)


def test_throttling_that_outlasts_the_retries_fails_the_start_and_starts_nothing(arm):
    arm.throttle("POST", "/failoverGroups/orders-fog/failover", times=10, retry_after=1)

    with pytest.raises(ActionFailed) as throttled:
        drive("azure.sql.failover_group", {"target": "fog", "request_timeout": 2})

    assert str(throttled.value).startswith("planned failover of failover group orders-fog to server orders-sql-neu: "
                                           "Azure answered 429 SubscriptionRequestsThrottled: ")
    assert "retry the step later" in str(throttled.value)
    assert arm.started == [] and arm.primary() == "orders-sql-weu"
    # Azure's short Retry-After was honoured: the SDK tried again before giving up.
    assert len([w for w in arm.writes if w[1].endswith("/failover")]) > 1


def test_a_short_throttle_is_waited_out_and_a_throttled_look_only_delays_the_next(arm):
    arm.throttle("POST", "/failoverGroups/orders-fog/failover", times=1, retry_after=1)
    arm.throttle("GET", "AzureAsyncOperation/", times=10, retry_after=30)

    done = drive("azure.sql.failover_group", {"target": "fog", "request_timeout": 2, "interval": 0.1})

    assert arm.primary() == "orders-sql-neu" and len(arm.started) == 1
    assert done.evidence["unanswered_looks"] == 10
    assert done.evidence["looks"] == 13


def test_a_restore_point_outside_the_retention_is_refused_before_anything_is_created(arm):
    with pytest.raises(ActionFailed) as refused:
        drive("azure.sql.restore_point_in_time", {"target": "db", "point_in_time": "2020-01-01T00:00:00+00:00"})

    assert str(refused.value).startswith("restore point 2020-01-01T00:00:00+00:00 is before the earliest restore point "
                                         "of database orders on server orders-sql-weu (")
    assert arm.writes == []


def test_a_planned_failover_of_an_unsynchronised_group_is_refused(arm):
    arm.group["replication_state"] = "SEEDING"

    with pytest.raises(ActionFailed) as refused:
        drive("azure.sql.failover_group", {"target": "fog", "request_timeout": 2})

    assert "the replication state is 'SEEDING', not CATCH_UP" in str(refused.value)
    assert "azure.sql.force_failover" in str(refused.value)
    assert arm.writes == []
