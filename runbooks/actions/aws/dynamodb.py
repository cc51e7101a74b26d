"""DynamoDB point-in-time recovery into a new table, with the RPO from the table's restorable window.

RestoreTableToPointInTime takes no tags, so the new table is tagged right after the request; a
redelivered step that finds the table untagged recognises it as its own by its RestoreSummary (the
same source table, created after this step started) before adopting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions

from ...durations import format_duration
from ..base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, require_positive
from .bindings import TABLE, AwsTarget, describe_target, region_words
from .client import aws_errors, client_for, is_not_found, iso, tags_of
from .rds import DEFAULT_POLL_SECONDS, DEFAULT_TTL_SECONDS, created_resource, drill_tags, new_identifier, parse_time

AWS_CALL_TIMEOUT = 30.0
RPO_METHOD = ("AWS metadata: restore requested at − restore point (the chosen time, or the table's "
              "LatestRestorableDateTime read just before the request)")


class Table:
    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self.client = client_for(target, "dynamodb")

    def call(self, resource: str, operation: str, **arguments: Any) -> dict[str, Any]:
        with aws_errors(resource, "dynamodb"):
            return getattr(self.client, operation)(**arguments)

    def label(self, table: str) -> str:
        return f"DynamoDB table {table} ({self.target.where})"

    def find(self, table: str) -> dict[str, Any] | None:
        try:
            return self.client.describe_table(TableName=table)["Table"]
        except botocore.exceptions.ClientError as error:
            if is_not_found(error):
                return None
            with aws_errors(self.label(table), "dynamodb"):
                raise

    def tags(self, arn: str, table: str) -> dict[str, str]:
        return tags_of(self.call(self.label(table), "list_tags_of_resource", ResourceArn=arn).get("Tags"))


@dataclass(frozen=True)
class DynamoRestoreParams:
    target: str
    name: str | None = None
    restore_time: str | None = None
    ttl: float = DEFAULT_TTL_SECONDS
    poll_interval: float = DEFAULT_POLL_SECONDS

    def validate(self) -> None:
        require_positive("ttl", self.ttl)
        require_positive("poll_interval", self.poll_interval)
        if self.name is not None and not 3 <= len(self.name) <= 255:
            raise ParamError("name", "a DynamoDB table name has 3 to 255 characters")


class DynamoRestorePointInTime(Action[DynamoRestoreParams]):
    name = "aws.dynamodb.restore_point_in_time"
    summary = ("Restore a DynamoDB table to a point in time as a new table, wait until it is active, and report "
               "the RPO from the table's restorable window.")
    Params = DynamoRestoreParams
    target_kind = TABLE
    changes = "creates a new DynamoDB table restored from point-in-time recovery (it costs money until deleted)"

    def call_timeout(self, params: DynamoRestoreParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: DynamoRestoreParams, targets: dict[str, dict[str, Any]]) -> str:
        when = params.restore_time or "its latest restorable time"
        return (f"restores {describe_target(targets, params.target)} to {when} as a new table"
                f"{region_words(targets, params.target)}, deleted after {format_duration(params.ttl)} at the latest")

    def _window(self, table: Table) -> tuple[datetime, datetime]:
        name = table.target.resource
        backups = table.call(table.label(name), "describe_continuous_backups", TableName=name)["ContinuousBackupsDescription"]
        pitr = backups.get("PointInTimeRecoveryDescription", {})
        if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
            raise ActionFailed(f"{table.label(name)} has point-in-time recovery turned off: it cannot be restored to a "
                               "point in time")
        return pitr["EarliestRestorableDateTime"], pitr["LatestRestorableDateTime"]

    def _facts(self, params: DynamoRestoreParams, table: Table) -> dict[str, Any]:
        earliest, latest = self._window(table)
        point = latest
        if params.restore_time:
            point = parse_time(params.restore_time, "restore_time")
            if not earliest <= point <= latest:
                raise ActionFailed(f"restore time {iso(point)} is outside the restorable window of "
                                   f"{table.label(table.target.resource)}: {iso(earliest)} to {iso(latest)}")
        return {"restore_point": iso(point), "use_latest": not params.restore_time,
                "latest_restorable_time": iso(latest), "earliest_restorable_time": iso(earliest)}

    def plan(self, params: DynamoRestoreParams, ctx: StepContext) -> dict[str, Any]:
        table = Table(AwsTarget.of(ctx, params.target, TABLE))
        facts = self._facts(params, table)
        name = new_identifier(table.target.resource, ctx, params.name)
        if table.find(name) is not None:
            raise ActionFailed(f"{table.label(name)} already exists: a restore needs a new name (params.name)")
        return {"would": f"restore {table.target.label} to {facts['restore_point']} as the new table {name}", **facts}

    def run(self, params: DynamoRestoreParams, ctx: StepContext) -> Outcome:
        target = AwsTarget.of(ctx, params.target, TABLE)
        table = Table(target)
        name = new_identifier(target.resource, ctx, params.name)
        existing = table.find(name)
        if existing is None:
            facts = self._facts(params, table)
            facts["requested_at"] = ctx.now().isoformat()
            when: dict[str, Any] = ({"UseLatestRestorableTime": True} if facts["use_latest"]
                                    else {"RestoreDateTime": datetime.fromisoformat(facts["restore_point"])})
            existing = table.call(target.label, "restore_table_to_point_in_time", SourceTableName=target.resource,
                                  TargetTableName=name, **when)["TableDescription"]
        else:
            facts = self._adopt(table, existing, name, ctx)
        tags = drill_tags(ctx, params.ttl, **{"drdrill:restored-from": target.resource,
                                             "drdrill:restore-point": facts["restore_point"],
                                             "drdrill:requested-at": facts["requested_at"]})
        state = {"name": name, "arn": existing["TableArn"], "tags": tags, **facts}
        state["tagged"] = self._tag(table, state)
        return PollAgain(after_seconds=0, state=state, created=self._created(target, ctx, params, state))

    def _tag(self, table: Table, state: dict[str, Any]) -> bool:
        """Tag the new table; False while DynamoDB still refuses because the table is being created
        (the next poll tries again: the sweep and the cleanup delete only what carries the tag)."""
        try:
            table.client.tag_resource(ResourceArn=state["arn"], Tags=[{"Key": k, "Value": v} for k, v in state["tags"].items()])
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceInUseException":
                return False
            with aws_errors(table.label(state["name"]), "dynamodb"):
                raise
        return True

    def _adopt(self, table: Table, existing: dict[str, Any], name: str, ctx: StepContext) -> dict[str, Any]:
        """The table this step's lost attempt restored, recognised by its tags or its restore summary."""
        tags = table.tags(existing["TableArn"], name)
        if tags.get("drdrill:drill") == str(ctx.drill_id):
            return {"restore_point": tags.get("drdrill:restore-point"), "requested_at": tags.get("drdrill:requested-at"),
                    "adopted": True}
        summary = existing.get("RestoreSummary") or {}
        source_arn = summary.get("SourceTableArn", "")
        created = existing.get("CreationDateTime")
        if (tags.get("drdrill:drill") is None and source_arn.endswith(f":table/{table.target.resource}")
                and ctx.started_at is not None and created is not None and created >= ctx.started_at):
            return {"restore_point": iso(summary.get("RestoreDateTime")), "requested_at": iso(created), "adopted": True}
        raise ActionFailed(f"{table.label(name)} already exists and was not restored by this drill; choose another params.name")

    def _created(self, target: AwsTarget, ctx: StepContext, params: DynamoRestoreParams, state: dict[str, Any]) -> tuple:
        return (created_resource(target, "dynamodb-table", state["arn"], state["name"], ctx, params.ttl,
                                 restored_from=target.resource),)

    def poll(self, params: DynamoRestoreParams, ctx: StepContext) -> Outcome:
        target = AwsTarget.of(ctx, params.target, TABLE)
        table = Table(target)
        state = dict(ctx.state)
        described = table.find(state["name"])
        if described is None:
            raise ActionFailed(f"the restored {table.label(state['name'])} disappeared while it was being restored")
        if not state.get("tagged"):
            state["tagged"] = self._tag(table, state)
        status = described.get("TableStatus")
        if status != "ACTIVE" or not state["tagged"]:
            return PollAgain(after_seconds=params.poll_interval, state=state, evidence={"status": status})
        evidence: dict[str, Any] = {"restored": state["name"], "from": target.resource, "region": target.region,
                                    "account": target.account, "available_at": ctx.now().isoformat(),
                                    "item_count": described.get("ItemCount"),
                                    **{k: v for k, v in state.items() if k not in ("name", "tags", "tagged")}}
        if state.get("restore_point") and state.get("requested_at"):
            lost = datetime.fromisoformat(state["requested_at"]) - datetime.fromisoformat(state["restore_point"])
            evidence.update(rpo_seconds=max(lost.total_seconds(), 0.0), rpo_method=RPO_METHOD)
        return Done(evidence=evidence, created=self._created(target, ctx, params, state),
                    marks={"service_restored": ctx.now()})
