"""A coordinator fails the orders failover group over to North Europe, through real workers, the
real SDK and the HTTPS fake of Resource Manager: the dry-run reads and writes nothing, the planned
failover swaps the roles through one operation followed to its end, the RTO runs from the request
to the new primary's confirmation and the RPO is Azure's own, with the facts it rests on."""

from __future__ import annotations

from datetime import datetime

import pytest

from drills.models import Drill
from tests.actions.azure.conftest import example, fast
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


def steps_of(drill: Drill) -> dict:
    return {run.step.key: run for run in drill.step_runs.select_related("step")}


def test_a_dry_run_reads_the_group_and_changes_nothing(azure_worker, arm, orders_sql, start_drill):
    orders_sql(fast("failover-group.yaml"))

    drill = wait_for_drill(start_drill("orders-sql-failover", mode="dry_run"), timeout=90)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert arm.writes == [] and arm.started == []
    assert arm.primary() == "orders-sql-weu"
    plan = steps_of(drill)["failover"].evidence
    assert plan["dry_run"] is True
    assert plan["would"] == ("start a planned failover of failover group orders-fog to orders-sql-neu "
                             "(primary now: orders-sql-weu)")
    assert plan["group"]["replication_state"] == "CATCH_UP"


def test_a_planned_failover_swaps_the_roles_and_records_azures_rpo(azure_worker, arm, orders_sql, start_drill):
    orders_sql(fast("failover-group.yaml"), fast("failback.yaml"))

    drill = wait_for_drill(start_drill("orders-sql-failover"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert arm.primary() == "orders-sql-neu"
    [operation] = arm.started
    assert operation.kind == "failover" and operation.status == "Succeeded"
    assert operation.resource.endswith("/servers/orders-sql-neu/failoverGroups/orders-fog/failover")
    steps = steps_of(drill)
    failover = steps["failover"].evidence
    # Two InProgress answers, then Succeeded: each look was one status request, on one operation.
    assert failover["looks"] == arm.status_requests(operation) == 3
    assert failover["group_before"]["role"] == "Secondary"
    assert failover["group_before"]["partners"] == [{"server": "orders-sql-weu", "location": "westeurope", "role": "Primary"}]
    assert failover["group_after"]["role"] == "Primary"

    measurements = {m.kind: m for m in drill.measurements.all()}
    rto = measurements["rto"]
    outage = datetime.fromisoformat(steps["failover"].marks["outage_start"])
    restored = datetime.fromisoformat(steps["confirm"].marks["service_restored"])
    assert outage == datetime.fromisoformat(failover["started_at"])
    assert rto.value_seconds == pytest.approx((restored - outage).total_seconds())
    rpo = measurements["rpo"]
    assert rpo.value_seconds == 0.0
    assert rpo.method.startswith("Azure planned failover")
    assert rpo.evidence["group_before"]["replication_state"] == "CATCH_UP"

    back = wait_for_drill(start_drill("orders-sql-failback"), timeout=120)
    assert back.status == Drill.Status.SUCCEEDED, back.outcome
    assert arm.primary() == "orders-sql-weu"
    assert [op.resource.rsplit("/servers/", 1)[1] for op in arm.started] == [
        "orders-sql-neu/failoverGroups/orders-fog/failover", "orders-sql-weu/failoverGroups/orders-fog/failover"]


def test_a_forced_failover_records_azures_facts_and_leaves_the_rpo_to_a_canary(azure_worker, arm, orders_sql, start_drill):
    orders_sql(fast("forced-failover.yaml"))

    drill = wait_for_drill(start_drill("orders-sql-forced-failover"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert arm.primary() == "orders-sql-neu"
    assert [op.kind for op in arm.started] == ["forceFailoverAllowDataLoss"]
    evidence = steps_of(drill)["force"].evidence
    assert evidence["operation"] == "forced failover (allow data loss)"
    assert "not the lag" in evidence["rpo_note"] and "rpo_seconds" not in evidence
    rpo = drill.measurements.get(kind="rpo")
    assert rpo.value_seconds is None and rpo.method == "not measured"


def test_planned_before_forced_asks_azure_for_that_operation(azure_worker, arm, orders_sql, start_drill):
    orders_sql(example("forced-failover.yaml", **{"try_planned_first: false": "try_planned_first: true, request_timeout: 2"}))

    drill = wait_for_drill(start_drill("orders-sql-forced-failover"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert [op.kind for op in arm.started] == ["tryPlannedBeforeForcedFailover"]
    assert arm.primary() == "orders-sql-neu"


def test_a_geo_link_failover_makes_the_secondary_database_primary(azure_worker, arm, orders_sql, start_drill):
    orders_sql(example("geo-link-failover.yaml", **{"to_server: orders-sql-neu}": "to_server: orders-sql-neu, request_timeout: 2}"}))

    drill = wait_for_drill(start_drill("orders-sql-geo-link-failover"), timeout=120)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert arm.link["primary"] == "orders-sql-neu"
    [operation] = arm.started
    assert operation.kind == "link-failover"
    assert operation.resource.endswith("/servers/orders-sql-neu/databases/orders/replicationLinks/"
                                       "5b1d7c2e-0f3a-4c6e-9d8b-2a4f6e8c0b1d/failover")
    evidence = steps_of(drill)["failover"].evidence
    assert (evidence["link_before"]["role"], evidence["link_after"]["role"]) == ("Secondary", "Primary")
    assert drill.measurements.get(kind="rpo").value_seconds == 0.0
