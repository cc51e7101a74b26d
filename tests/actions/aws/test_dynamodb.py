"""DynamoDB point-in-time recovery into a new table through a real worker against moto's server
(moto implements RestoreTableToPointInTime; it copies the table's current items whatever the time)."""

from __future__ import annotations

from datetime import datetime

import pytest

from drills.models import Drill, DrillResource
from tests.support.aws_moto import ACCOUNT, REGION, runbook_yaml, system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

TABLE = {"kind": "aws-dynamodb-table", "account": ACCOUNT, "region": REGION, "table": "carts"}


def test_a_table_restore_creates_a_tagged_copy_and_reports_its_rpo(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.table_with_pitr("carts", items=5)
    import_yaml(system_yaml({"carts": TABLE}), runbook_yaml("""
      - key: restore
        name: Restore the carts table to its latest restorable time
        action: aws.dynamodb.restore_point_in_time
        params: {target: carts, poll_interval: 0.5}
        marks: [service_restored]
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    dynamodb = aws.client("dynamodb")
    restored = f"carts-d{drill.pk}-restore"
    assert dynamodb.scan(TableName=restored)["Count"] == 5
    evidence = drill.step_runs.get(step__key="restore").evidence
    assert evidence["restored"] == restored and evidence["restore_point"] == evidence["latest_restorable_time"]
    rpo = drill.measurements.get(kind="rpo")
    assert rpo.value_seconds == pytest.approx((datetime.fromisoformat(evidence["requested_at"])
                                               - datetime.fromisoformat(evidence["restore_point"])).total_seconds())
    tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=evidence["arn"])["Tags"]}
    assert tags["drdrill:drill"] == str(drill.pk)
    assert DrillResource.objects.get(drill=drill).kind == "dynamodb-table"
    assert aws_proxy.count("RestoreTableToPointInTime") == 1


def test_a_table_without_point_in_time_recovery_is_refused(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.client("dynamodb").create_table(TableName="carts", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                        BillingMode="PAY_PER_REQUEST")
    import_yaml(system_yaml({"carts": TABLE}), runbook_yaml("""
      - key: restore
        name: Restore the carts table
        action: aws.dynamodb.restore_point_in_time
        params: {target: carts}
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.FAILED
    assert ("DynamoDB table carts (account 123456789012, eu-west-1) has point-in-time recovery turned off"
            in drill.step_runs.get(step__key="restore").error)
    assert aws_proxy.count("RestoreTableToPointInTime") == 0


def test_a_table_still_being_created_is_tagged_by_a_later_poll(worker, aws, aws_proxy, import_yaml, start_drill):
    aws.table_with_pitr("carts", items=1)
    aws_proxy.fail("TagResource", "ResourceInUseException", times=1, message="Table carts-restored is being created")
    import_yaml(system_yaml({"carts": TABLE}), runbook_yaml("""
      - key: restore
        name: Restore the carts table
        action: aws.dynamodb.restore_point_in_time
        params: {target: carts, name: carts-restored, poll_interval: 0.5}
""", kind="backup_restore"))

    drill = wait_for_drill(start_drill("aws-drill"))

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert aws_proxy.count("TagResource") == 2
    arn = drill.step_runs.get(step__key="restore").evidence["arn"]
    tags = {t["Key"]: t["Value"] for t in aws.client("dynamodb").list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags["drdrill:drill"] == str(drill.pk)
