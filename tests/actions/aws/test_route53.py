"""Route 53 failover drills through real workers against moto's server: the failover record pair
switches to its secondary (by rewriting the records, or by inverting the primary's health check),
and back; a step that finds the pair already switched changes nothing."""

from __future__ import annotations

import pytest

from drills.models import Drill
from runbooks.actions import get_action
from tests.support.aws_moto import ACCOUNT, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker


def record_binding(records: dict[str, str], **extra: str) -> dict[str, str]:
    return {"kind": "aws-route53-record", "account": ACCOUNT, "hosted_zone_id": records["zone"],
            "record_name": records["record"], "primary_set_identifier": "primary-eu",
            "secondary_set_identifier": "secondary-eu", **extra}


def test_a_failover_record_switch_makes_the_secondary_primary(worker, aws, aws_proxy, import_yaml, start_drill):
    records = aws.failover_records()
    import_yaml(system_yaml({"api": record_binding(records)}), runbook_yaml("""
      - key: switch
        name: Send api traffic to the secondary region
        action: aws.route53.failover
        params: {target: api, mode: records, poll_interval: 0.5}
        marks: [outage_start]
      - key: healthy
        name: Wait until the secondary's health check is healthy
        action: aws.route53.wait_healthy
        params: {target: api, health_check_id: HEALTH, interval: 0.2, consecutive: 2}
        marks: [service_restored]
""".replace("HEALTH", records["secondary_check"])))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws.failover_roles(records["zone"], records["record"]) == {"primary-eu": "SECONDARY", "secondary-eu": "PRIMARY"}
    assert aws_proxy.count("ChangeResourceRecordSets") == 1
    switch = drill.step_runs.get(step__key="switch").evidence
    assert switch["primary"] == "secondary-eu" and switch["primary_before"] == "primary-eu"
    healthy = drill.step_runs.get(step__key="healthy").evidence
    assert healthy["consecutive"] == 2 and healthy["failures"] == 0
    assert drill.measurements.get(kind="rto").value_seconds is not None


def test_failing_back_restores_the_original_primary_and_a_repeat_changes_nothing(worker, aws, aws_proxy, import_yaml, start_drill):
    records = aws.failover_records()
    import_yaml(system_yaml({"api": record_binding(records)}), runbook_yaml("""
      - key: switch
        name: Fail over
        action: aws.route53.failover
        params: {target: api, mode: records, poll_interval: 0.5}
      - key: again
        name: Fail over again (already done)
        action: aws.route53.failover
        params: {target: api, mode: records, poll_interval: 0.5}
      - key: back
        name: Fail back
        action: aws.route53.failover
        params: {target: api, mode: records, to: primary, poll_interval: 0.5}
"""))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert drill.step_runs.get(step__key="again").evidence["already_switched"] is True
    assert aws_proxy.count("ChangeResourceRecordSets") == 2
    assert aws.failover_roles(records["zone"], records["record"]) == {"primary-eu": "PRIMARY", "secondary-eu": "SECONDARY"}


def test_a_health_check_switch_inverts_the_primary_check_and_leaves_the_records(worker, aws, aws_proxy, import_yaml, start_drill):
    records = aws.failover_records()
    import_yaml(system_yaml({"api": record_binding(records)}), runbook_yaml("""
      - key: switch
        name: Make Route 53 judge the primary unhealthy
        action: aws.route53.failover
        params: {target: api}
"""))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    check = aws.client("route53").get_health_check(HealthCheckId=records["primary_check"])["HealthCheck"]
    assert check["HealthCheckConfig"]["Inverted"] is True
    assert aws_proxy.count("ChangeResourceRecordSets") == 0
    evidence = drill.step_runs.get(step__key="switch").evidence
    assert evidence["health_check"] == records["primary_check"] and evidence["already_switched"] is False


def test_describe_names_the_record_and_the_way_it_switches():
    targets = {"api": {"kind": "aws-route53-record", "record_name": "api.shop.example.com"}}
    action = get_action("aws.route53.failover")
    assert action.describe(action.Params(target="api"), targets) == \
        "switches Route 53 record api.shop.example.com to its secondary record by inverting the primary's health check"
