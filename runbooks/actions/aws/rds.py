"""Reading RDS and Aurora state, naming and tagging what a drill creates, and reading CloudWatch
figures: the pieces every RDS action shares."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.exceptions

from ..base import ActionFailed, CreatedResource, StepContext
from .bindings import CLUSTER, AwsTarget
from .client import as_tag_list, aws_errors, client_for, error_code, is_not_found, iso, tags_of

DEFAULT_TTL_SECONDS = 4 * 3600.0
DEFAULT_POLL_SECONDS = 15.0
LAG_WINDOW = timedelta(minutes=5)
# A restored resource in one of these states will not become available by waiting.
DEAD_STATES = {"failed", "incompatible-restore", "incompatible-parameters", "incompatible-network",
               "inaccessible-encryption-credentials", "storage-full", "deleting"}


class Rds:
    """The RDS API for one target, with every error naming the resource it concerns."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self.client = client_for(target, "rds")

    def call(self, resource: str, operation: str, **arguments: Any) -> dict[str, Any]:
        with aws_errors(resource, "rds"):
            return getattr(self.client, operation)(**arguments)

    def label(self, kind: str, identifier: str) -> str:
        words = "Aurora cluster" if kind == CLUSTER else "RDS instance"
        return f"{words} {identifier} ({self.target.where})"

    def cluster(self, identifier: str) -> dict[str, Any]:
        return self.call(self.label(CLUSTER, identifier), "describe_db_clusters",
                         DBClusterIdentifier=identifier)["DBClusters"][0]

    def instance(self, identifier: str) -> dict[str, Any]:
        return self.call(self.label("instance", identifier), "describe_db_instances",
                         DBInstanceIdentifier=identifier)["DBInstances"][0]

    def describe(self, kind: str, identifier: str) -> dict[str, Any]:
        return self.cluster(identifier) if kind == CLUSTER else self.instance(identifier)

    def find(self, kind: str, identifier: str) -> dict[str, Any] | None:
        """The cluster or instance, or None when it does not exist."""
        try:
            if kind == CLUSTER:
                return self.client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
            return self.client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        except botocore.exceptions.ClientError as error:
            if is_not_found(error):
                return None
            with aws_errors(self.label(kind, identifier), "rds"):
                raise

    def find_snapshot(self, kind: str, identifier: str) -> dict[str, Any] | None:
        """A manual or automated snapshot of an instance (or of a cluster, for a cluster target), or None."""
        try:
            if kind == CLUSTER:
                return self.client.describe_db_cluster_snapshots(
                    DBClusterSnapshotIdentifier=identifier)["DBClusterSnapshots"][0]
            return self.client.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"][0]
        except botocore.exceptions.ClientError as error:
            if is_not_found(error):
                return None
            with aws_errors(f"snapshot {identifier} ({self.target.where})", "rds"):
                raise

    def add_tags(self, arn: str, resource: str, tags: dict[str, str]) -> None:
        self.call(resource, "add_tags_to_resource", ResourceName=arn, Tags=as_tag_list(tags))


def status_of(kind: str, described: dict[str, Any]) -> str:
    return described["Status"] if kind == CLUSTER else described["DBInstanceStatus"]


def arn_of(kind: str, described: dict[str, Any]) -> str:
    return described["DBClusterArn"] if kind == CLUSTER else described["DBInstanceArn"]


def writer_of(cluster: dict[str, Any]) -> str | None:
    return next((m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)


def readers_of(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """The cluster's readers, the one AWS would promote first (lowest promotion tier) first."""
    readers = [m for m in cluster.get("DBClusterMembers", []) if not m.get("IsClusterWriter")]
    return sorted(readers, key=lambda m: (m.get("PromotionTier", 15), m["DBInstanceIdentifier"]))


def check_available(rds: Rds, kind: str, described: dict[str, Any], identifier: str, doing: str) -> None:
    status = status_of(kind, described)
    if status != "available":
        raise ActionFailed(f"{rds.label(kind, identifier)} is {status!r}, not 'available': cannot {doing} now; "
                           "nothing was changed")


def new_identifier(source: str, ctx: StepContext, given: str | None) -> str:
    """What a drill calls the resource it creates: given, or derived from the drill and the step so
    a redelivered step finds the one its lost attempt created."""
    if given:
        return given
    step = re.sub(r"[^a-z0-9]+", "-", ctx.step_key.lower()).strip("-") or "step"
    suffix = f"-d{ctx.drill_id}-{step}"
    name = (source[: 63 - len(suffix)].rstrip("-") + suffix)[:63].rstrip("-")
    return re.sub(r"-{2,}", "-", name)


def drill_tags(ctx: StepContext, ttl_seconds: float, **extra: str) -> dict[str, str]:
    expires = ctx.now() + timedelta(seconds=ttl_seconds)
    return {**ctx.drill_tag, "drdrill:expires-at": expires.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **extra}


def created_by_this_drill(tags: dict[str, str], ctx: StepContext) -> bool:
    return tags.get("drdrill:drill") == str(ctx.drill_id)


def refuse_foreign(rds: Rds, kind: str, identifier: str, described: dict[str, Any], ctx: StepContext) -> None:
    """A name this step would create is taken by something this drill did not make: never adopt it
    (the cleanup would delete it)."""
    tags = tags_of(described.get("TagList"))
    if not created_by_this_drill(tags, ctx):
        raise ActionFailed(f"{rds.label(kind, identifier)} already exists and was not created by this drill "
                           f"(tag drdrill:drill={tags.get('drdrill:drill', 'none')}); choose another params.name")


def created_resource(target: AwsTarget, kind: str, arn: str, identifier: str, ctx: StepContext, ttl_seconds: float,
                     **details: Any) -> CreatedResource:
    """``kind``: db-instance, db-cluster, db-snapshot, db-cluster-snapshot or dynamodb-table (the
    orphan finder's names too); the identifier is the ARN, unique across accounts and regions."""
    return CreatedResource(provider="aws", kind=kind, identifier=arn, target=target.name, region=target.region,
                           account=target.account, ttl_seconds=ttl_seconds,
                           details={"drill": str(ctx.drill_id), "name": identifier, **details})


def parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ActionFailed(f"params.{field}: {value!r} is not an ISO 8601 time such as 2026-12-01T08:30:00Z") from None
    if parsed.tzinfo is None:
        raise ActionFailed(f"params.{field}: {value!r} has no time zone; add Z for UTC")
    return parsed


def restorable_window(rds: Rds, kind: str, source: dict[str, Any], identifier: str) -> tuple[datetime, datetime]:
    """(earliest, latest) restorable time of an instance or cluster whose automated backups are on."""
    if not source.get("BackupRetentionPeriod"):
        raise ActionFailed(f"{rds.label(kind, identifier)} has automated backups turned off (BackupRetentionPeriod 0): "
                           "it cannot be restored to a point in time")
    latest = source.get("LatestRestorableTime")
    if latest is None:
        raise ActionFailed(f"{rds.label(kind, identifier)} reports no LatestRestorableTime yet: its first backup "
                           "has not completed")
    earliest = source.get("EarliestRestorableTime") or source.get("ClusterCreateTime") or source.get("InstanceCreateTime") or latest
    return earliest, latest


def check_inside_window(rds: Rds, kind: str, identifier: str, when: datetime, window: tuple[datetime, datetime]) -> None:
    earliest, latest = window
    if not earliest <= when <= latest:
        raise ActionFailed(f"restore time {iso(when)} is outside the restorable window of {rds.label(kind, identifier)}: "
                           f"{iso(earliest)} to {iso(latest)}")


def metric_maximum(target: AwsTarget, *, metric: str, dimension: str, value: str, now: datetime,
                   region: str | None = None) -> tuple[float | None, str]:
    """The highest ``metric`` of AWS/RDS over the last few minutes, and where it was read; None (with
    the reason) when CloudWatch has no data or may not be read, which never fails the step."""
    where = target if region is None else AwsTarget(target.name, {**target.binding, "region": region})
    try:
        cloudwatch = client_for(where, "cloudwatch")
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS", MetricName=metric, Dimensions=[{"Name": dimension, "Value": value}],
            StartTime=now - LAG_WINDOW, EndTime=now + timedelta(seconds=60), Period=60, Statistics=["Maximum"])["Datapoints"]
    except botocore.exceptions.ClientError as error:
        return None, f"CloudWatch {metric} of {value} could not be read: {error_code(error)}"
    except ActionFailed as error:
        return None, str(error)
    if not points:
        return None, f"CloudWatch has no {metric} for {value} in the 5 minutes before"
    return max(p["Maximum"] for p in points), f"CloudWatch AWS/RDS {metric} ({dimension}={value}), maximum over 5 minutes"
