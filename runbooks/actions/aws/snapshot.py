"""Taking a manual snapshot of an RDS instance or Aurora cluster, tagged with the drill and recorded
with its time to live, for a later aws.rds.restore_snapshot step to restore."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...durations import format_duration
from ..base import Action, ActionFailed, Done, Outcome, PollAgain, StepContext, require_positive
from .bindings import CLUSTER, INSTANCE, AwsTarget, describe_target, region_words
from .client import iso, tags_of
from .rds import DEFAULT_POLL_SECONDS, DEFAULT_TTL_SECONDS, Rds, created_resource, drill_tags, new_identifier, status_of
from .restore import AWS_CALL_TIMEOUT, FACT_TAGS


@dataclass(frozen=True)
class CreateSnapshotParams:
    target: str
    name: str | None = None
    ttl: float = DEFAULT_TTL_SECONDS
    poll_interval: float = DEFAULT_POLL_SECONDS

    def validate(self) -> None:
        require_positive("ttl", self.ttl)
        require_positive("poll_interval", self.poll_interval)


class CreateSnapshot(Action[CreateSnapshotParams]):
    name = "aws.rds.create_snapshot"
    summary = "Take a manual snapshot of an RDS instance or Aurora cluster, tagged with the drill, and wait until it is available."
    Params = CreateSnapshotParams
    target_kind = (CLUSTER, INSTANCE)
    changes = "creates a manual snapshot (storage costs until it is deleted)"

    def call_timeout(self, params: CreateSnapshotParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: CreateSnapshotParams, targets: dict[str, dict[str, Any]]) -> str:
        return (f"takes a snapshot of {describe_target(targets, params.target)}{region_words(targets, params.target)}, "
                f"deleted after {format_duration(params.ttl)} at the latest")

    def plan(self, params: CreateSnapshotParams, ctx: StepContext) -> dict[str, Any]:
        target = AwsTarget.of(ctx, params.target, CLUSTER, INSTANCE)
        rds = Rds(target)
        source = rds.describe(target.kind, target.resource)
        name = new_identifier(target.resource, ctx, params.name)
        return {"would": f"take the snapshot {name} of {target.label}", "status_now": status_of(target.kind, source)}

    def run(self, params: CreateSnapshotParams, ctx: StepContext) -> Outcome:
        target = AwsTarget.of(ctx, params.target, CLUSTER, INSTANCE)
        rds = Rds(target)
        name = new_identifier(target.resource, ctx, params.name)
        if rds.find_snapshot(rds.target.kind, name) is None:
            rds.describe(target.kind, target.resource)
            tags = [{"Key": k, "Value": v} for k, v in drill_tags(ctx, params.ttl, **{FACT_TAGS["source"]: target.resource}).items()]
            if target.kind == CLUSTER:
                rds.call(target.label, "create_db_cluster_snapshot", DBClusterSnapshotIdentifier=name,
                         DBClusterIdentifier=target.resource, Tags=tags)
            else:
                rds.call(target.label, "create_db_snapshot", DBSnapshotIdentifier=name,
                         DBInstanceIdentifier=target.resource, Tags=tags)
        return self.poll(params, _with_state(ctx, {"name": name}))

    def poll(self, params: CreateSnapshotParams, ctx: StepContext) -> Outcome:
        target = AwsTarget.of(ctx, params.target, CLUSTER, INSTANCE)
        rds = Rds(target)
        name = ctx.state["name"]
        snapshot = rds.find_snapshot(rds.target.kind, name)
        if snapshot is None:
            raise ActionFailed(f"snapshot {name} of {target.label} disappeared while it was being taken")
        cluster = target.kind == CLUSTER
        tags = tags_of(snapshot.get("TagList"))
        if tags.get("drdrill:drill") != str(ctx.drill_id):
            raise ActionFailed(f"snapshot {name} ({target.where}) already exists and was not taken by this drill; "
                               "choose another params.name")
        arn = snapshot["DBClusterSnapshotArn" if cluster else "DBSnapshotArn"]
        created = (created_resource(target, "db-cluster-snapshot" if cluster else "db-snapshot", arn, name, ctx,
                                    params.ttl, snapshot_of=target.resource),)
        if snapshot.get("Status") != "available":
            return PollAgain(after_seconds=params.poll_interval, state={"name": name}, created=created,
                             evidence={"status": snapshot.get("Status"), "snapshot": name})
        return Done(evidence={"snapshot": name, "arn": arn, "of": target.resource, "region": target.region,
                              "account": target.account, "snapshot_create_time": iso(snapshot.get("SnapshotCreateTime"))},
                    created=created)


def _with_state(ctx: StepContext, state: dict[str, Any]) -> StepContext:
    return replace(ctx, state=state)
