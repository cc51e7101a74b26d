"""Deleting what drills created in AWS, and finding what lost drills left behind.

One deletion routine serves the ``aws.cleanup`` step and the sweep that deletes a resource when its
time to live ends (``resource_cleaner``). It deletes only what carries the tag of the drill that
recorded it: a record that somehow named a production database would be refused, not obeyed.
Restored clusters lose their instances first (RDS refuses to delete a cluster that has any).
``find_orphans`` lists, through the Resource Groups Tagging API, everything in a binding's account
and region that carries a ``drdrill:drill`` tag; drdrill then judges which of them no live drill
accounts for (drills/resources.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ..base import Action, ActionFailed, CreatedResource, Done, Outcome, PollAgain, StepContext, require_positive
from ..policy import CloudAccess
from .bindings import KINDS, AwsTarget
from .client import aws_errors, client_for, is_not_found, tags_of

AWS_CALL_TIMEOUT = 30.0
# Tagging API resource types, and what drdrill calls each.
ORPHAN_TYPES = {"rds:db": "db-instance", "rds:cluster": "db-cluster", "rds:snapshot": "db-snapshot",
                "rds:cluster-snapshot": "db-cluster-snapshot", "dynamodb:table": "dynamodb-table"}
# Snapshots and instances go before clusters (a cluster with instances cannot be deleted).
DELETE_ORDER = {"db-snapshot": 0, "db-cluster-snapshot": 0, "dynamodb-table": 0, "db-instance": 1, "db-cluster": 2}


def _target_for(resource: CreatedResource, binding: dict[str, Any]) -> AwsTarget:
    """The resource's own account and region, with the credentials (role) of the binding it was made through."""
    where = {**binding, "account": resource.account or binding.get("account"), "region": resource.region or binding.get("region")}
    if where.get("kind") not in KINDS or where["kind"] == "aws-route53-record":
        where["kind"] = "aws-rds-instance"  # any regional kind: only account, region and role are used
    return AwsTarget(resource.target or "cleanup", where)


def _name(resource: CreatedResource) -> str:
    return str(resource.details.get("name") or resource.identifier.rsplit(":", 1)[-1].rsplit("/", 1)[-1])


def delete_resource(resource: CreatedResource, binding: dict[str, Any]) -> bool:
    """Ask AWS to delete ``resource``; True once it is gone, False while AWS is still deleting it."""
    target = _target_for(resource, binding)
    name = _name(resource)
    label = f"{resource.kind} {name} ({target.where})"
    if resource.kind == "dynamodb-table":
        return _delete_table(target, resource, name, label)
    rds = client_for(target, "rds")
    described = _describe(rds, resource.kind, name, label)
    if described is None:
        return True
    _check_tag(described.get("TagList"), resource, label)
    status = described.get("Status") or described.get("DBInstanceStatus") or ""
    if status == "deleting":
        return False
    with aws_errors(label, "rds"):
        if resource.kind == "db-instance":
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        elif resource.kind == "db-cluster":
            for member in described.get("DBClusterMembers", []):
                instance = member["DBInstanceIdentifier"]
                found = _describe(rds, "db-instance", instance, label)
                if found is not None and found.get("DBInstanceStatus") != "deleting":
                    _check_tag(found.get("TagList"), resource, f"instance {instance} of {label}")
                    rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
            if described.get("DBClusterMembers"):
                return False
            rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
        elif resource.kind == "db-snapshot":
            rds.delete_db_snapshot(DBSnapshotIdentifier=name)
        elif resource.kind == "db-cluster-snapshot":
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
        else:
            raise ActionFailed(f"drdrill does not know how to delete an AWS {resource.kind} ({name})")
    return _describe(rds, resource.kind, name, label) is None


def _describe(rds: Any, kind: str, name: str, label: str) -> dict[str, Any] | None:
    operation, argument, key = {
        "db-instance": ("describe_db_instances", "DBInstanceIdentifier", "DBInstances"),
        "db-cluster": ("describe_db_clusters", "DBClusterIdentifier", "DBClusters"),
        "db-snapshot": ("describe_db_snapshots", "DBSnapshotIdentifier", "DBSnapshots"),
        "db-cluster-snapshot": ("describe_db_cluster_snapshots", "DBClusterSnapshotIdentifier", "DBClusterSnapshots"),
    }[kind]
    try:
        found = getattr(rds, operation)(**{argument: name})[key]
    except botocore.exceptions.ClientError as error:
        if is_not_found(error):
            return None
        with aws_errors(label, "rds"):
            raise
    return found[0] if found else None


def _check_tag(tag_list: list[dict[str, str]] | None, resource: CreatedResource, label: str) -> None:
    drill = tags_of(tag_list).get("drdrill:drill")
    if drill != str(resource.details.get("drill")):
        raise ActionFailed(f"refusing to delete {label}: it carries the tag drdrill:drill={drill or 'none'}, not "
                           f"{resource.details.get('drill')}, so drdrill did not create it for this drill")


def _delete_table(target: AwsTarget, resource: CreatedResource, name: str, label: str) -> bool:
    dynamodb = client_for(target, "dynamodb")
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except botocore.exceptions.ClientError as error:
        if is_not_found(error):
            return True
        with aws_errors(label, "dynamodb"):
            raise
    if table.get("TableStatus") == "DELETING":
        return False
    with aws_errors(label, "dynamodb"):
        _check_tag(dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"), resource, label)
        dynamodb.delete_table(TableName=name)
    return False


def resource_cleaner(resource: CreatedResource, binding: dict[str, Any]) -> bool:
    """The TTL sweep's deletion (drills/resources.py)."""
    return delete_resource(resource, binding)


def find_orphans(binding: dict[str, Any]) -> list[CreatedResource]:
    """Everything tagged by drdrill in the binding's account and region."""
    if binding.get("kind") not in KINDS or binding.get("kind") == "aws-route53-record":
        return []
    target = AwsTarget("orphans", binding)
    tagging = client_for(target, "resourcegroupstaggingapi")
    found: list[CreatedResource] = []
    with aws_errors(f"resources tagged drdrill:drill ({target.where})", "resourcegroupstaggingapi"):
        for page in tagging.get_paginator("get_resources").paginate(
                TagFilters=[{"Key": "drdrill:drill"}], ResourceTypeFilters=list(ORPHAN_TYPES)):
            for mapping in page["ResourceTagMappingList"]:
                arn = mapping["ResourceARN"]
                tags = tags_of(mapping.get("Tags"))
                found.append(CreatedResource(
                    provider="aws", kind=_kind_of(arn), identifier=arn, region=target.region, account=target.account,
                    details={"drill": tags.get("drdrill:drill"), "step": tags.get("drdrill:step"),
                             "expires_at": tags.get("drdrill:expires-at"), "name": _arn_name(arn)}))
    return found


def _kind_of(arn: str) -> str:
    service, resource = arn.split(":")[2], arn.split(":")[5]
    kind = resource.split("/")[0]
    return ORPHAN_TYPES.get(f"{service}:{kind}", f"{service}:{kind}")


def _arn_name(arn: str) -> str:
    return arn.split(":", 6)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]


@dataclass(frozen=True)
class CleanupParams:
    target: str | None = None
    wait: bool = True
    poll_interval: float = 10.0

    def validate(self) -> None:
        require_positive("poll_interval", self.poll_interval)


class Cleanup(Action[CleanupParams]):
    name = "aws.cleanup"
    summary = "Delete what earlier steps of this drill created in AWS (restored instances and clusters, snapshots, tables)."
    Params = CleanupParams
    phase = "verify"
    changes = "deletes the AWS resources this drill created, and only those (each must carry the drill's tag)"

    def call_timeout(self, params: CleanupParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: CleanupParams, targets: dict[str, dict[str, Any]]) -> str:
        through = f" through target {params.target!r}" if params.target else ""
        return f"deletes what earlier steps of this drill created in AWS{through}"

    def _mine(self, params: CleanupParams, ctx: StepContext) -> list[CreatedResource]:
        resources = [r for r in ctx.created_resources if r.provider == "aws" and (not params.target or r.target == params.target)]
        return sorted(resources, key=lambda r: DELETE_ORDER.get(r.kind, 1))

    def touches(self, params: CleanupParams, ctx: StepContext) -> list[Any]:
        return [CloudAccess("aws", r.account, r.region) for r in self._mine(params, ctx)]

    def plan(self, params: CleanupParams, ctx: StepContext) -> dict[str, Any]:
        if params.target:
            AwsTarget.of(ctx, params.target, *KINDS)
        return {"would": "delete what earlier steps of this drill created in AWS (none yet in a dry-run)",
                "created_so_far": [r.identifier for r in self._mine(params, ctx)]}

    def run(self, params: CleanupParams, ctx: StepContext) -> Outcome:
        return self.poll(params, ctx)

    def poll(self, params: CleanupParams, ctx: StepContext) -> Outcome:
        state = dict(ctx.state) or {"deleted": []}
        pending = []
        for resource in self._mine(params, ctx):
            if resource.identifier in state["deleted"]:
                continue
            # Instances inside a cluster being deleted go first; the cluster waits for them.
            if delete_resource(resource, ctx.targets.get(resource.target, {})):
                state["deleted"].append(resource.identifier)
            else:
                pending.append(resource.identifier)
        if pending and params.wait:
            return PollAgain(after_seconds=params.poll_interval, state=state, evidence={"deleting": pending,
                                                                                         "deleted": state["deleted"]})
        return Done(evidence={"deleted": state["deleted"], "still_deleting": pending}, deleted=tuple(state["deleted"]))
