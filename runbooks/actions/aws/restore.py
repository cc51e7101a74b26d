"""Bringing data back as a *new* RDS instance or Aurora cluster, from a point in time or a snapshot.

What a drill creates is named after the drill and the step (``orders-db-d42-restore``), tagged with
the drill (``ctx.drill_tag``) and with the facts the RPO is computed from, and reported as created at
once, with a time to live, so a drill lost while the restore runs still has it deleted. A redelivered
step finds the resource its lost attempt created (by name, and only if it carries this drill's tag)
and waits for it instead of restoring twice.

The RPO each restore reports comes from AWS's own metadata: the restore point (the time chosen, or
``LatestRestorableTime`` read just before the request) or the snapshot's ``SnapshotCreateTime``,
against the moment the restore was requested, which stands for the disaster: everything written after
the restore point is missing from the restored copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...durations import format_duration
from ..base import (
    Action,
    ActionFailed,
    CreatedResource,
    Done,
    Outcome,
    ParamError,
    PollAgain,
    StepContext,
    require_positive,
)
from .bindings import CLUSTER, INSTANCE, AwsTarget, describe_target, region_words
from .client import iso, tags_of
from .rds import (
    DEAD_STATES,
    DEFAULT_POLL_SECONDS,
    DEFAULT_TTL_SECONDS,
    Rds,
    arn_of,
    check_inside_window,
    created_resource,
    drill_tags,
    new_identifier,
    parse_time,
    refuse_foreign,
    restorable_window,
    status_of,
    writer_of,
)

AWS_CALL_TIMEOUT = 30.0
# Facts kept on the created resource's tags, so a redelivered step recovers them from AWS itself.
FACT_TAGS = {"restore_point": "drdrill:restore-point", "requested_at": "drdrill:requested-at",
             "source": "drdrill:restored-from"}


def kind_words(kind: str) -> str:
    return "cluster" if kind == CLUSTER else "instance"


@dataclass(frozen=True)
class RestoreParams:
    target: str
    name: str | None = None
    instance_class: str | None = None
    subnet_group: str | None = None
    security_group_ids: list[str] | None = None
    ttl: float = DEFAULT_TTL_SECONDS
    poll_interval: float = DEFAULT_POLL_SECONDS

    def validate(self) -> None:
        require_positive("ttl", self.ttl)
        require_positive("poll_interval", self.poll_interval)


class _Restore(Action[Any]):
    """What both restores share: find or request the new resource, wait for it, report the RPO."""

    target_kind = (CLUSTER, INSTANCE)
    restore_words = ""
    rpo_method = ""

    def call_timeout(self, params: Any) -> float:
        return AWS_CALL_TIMEOUT

    def _target(self, params: Any, ctx: StepContext) -> tuple[AwsTarget, Rds]:
        target = AwsTarget.of(ctx, params.target, CLUSTER, INSTANCE)
        return target, Rds(target)

    def _source_facts(self, params: Any, ctx: StepContext, rds: Rds) -> dict[str, Any]:
        """Check the source and choose what to restore from; the facts go into state, tags and evidence."""
        raise NotImplementedError

    def _request(self, params: Any, ctx: StepContext, rds: Rds, name: str, facts: dict[str, Any],
                 tags: list[dict[str, str]]) -> None:
        raise NotImplementedError

    def _placement(self, params: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if params.subnet_group:
            extra["DBSubnetGroupName"] = params.subnet_group
        if params.security_group_ids:
            extra["VpcSecurityGroupIds"] = params.security_group_ids
        return extra

    def plan(self, params: Any, ctx: StepContext) -> dict[str, Any]:
        target, rds = self._target(params, ctx)
        facts = self._source_facts(params, ctx, rds)
        name = new_identifier(target.resource, ctx, params.name)
        if rds.find(target.kind, name) is not None:
            raise ActionFailed(f"{rds.label(target.kind, name)} already exists: a restore needs a new name (params.name)")
        return {"would": f"restore {target.label} {self.restore_words} {facts['restore_point']} as the new "
                         f"{kind_words(target.kind)} {name}, tagged with the drill and deleted after {format_duration(params.ttl)} "
                         "unless a cleanup step deletes it first", **facts}

    def run(self, params: Any, ctx: StepContext) -> Outcome:
        target, rds = self._target(params, ctx)
        name = new_identifier(target.resource, ctx, params.name)
        existing = rds.find(target.kind, name)
        if existing is not None:
            # A lost attempt of this step created it: take its facts back from its tags.
            refuse_foreign(rds, target.kind, name, existing, ctx)
            tags = tags_of(existing.get("TagList"))
            state = {"name": name, **{fact: tags.get(tag) for fact, tag in FACT_TAGS.items()}, "adopted": True}
            return PollAgain(after_seconds=0, state=state, created=self._created(target, ctx, params, name, existing, state))
        facts = self._source_facts(params, ctx, rds)
        requested_at = ctx.now()
        facts["requested_at"] = requested_at.isoformat()
        # ISO times fit in tag values as they are (letters, digits, spaces and _ . : / = + - @).
        tags = drill_tags(ctx, params.ttl, **{FACT_TAGS["restore_point"]: facts["restore_point"],
                                             FACT_TAGS["requested_at"]: facts["requested_at"],
                                             FACT_TAGS["source"]: target.resource})
        self._request(params, ctx, rds, name, facts, [{"Key": k, "Value": v} for k, v in tags.items()])
        created = rds.describe(target.kind, name)
        state = {"name": name, **facts}
        return PollAgain(after_seconds=params.poll_interval, state=state,
                         created=self._created(target, ctx, params, name, created, state))

    def _created(self, target: AwsTarget, ctx: StepContext, params: Any, name: str, described: dict[str, Any],
                 state: dict[str, Any]) -> tuple[CreatedResource, ...]:
        kind = "db-cluster" if target.kind == CLUSTER else "db-instance"
        return (created_resource(target, kind, arn_of(target.kind, described), name, ctx, params.ttl,
                                 restored_from=target.resource),)

    def poll(self, params: Any, ctx: StepContext) -> Outcome:
        target, rds = self._target(params, ctx)
        state = dict(ctx.state)
        name = state["name"]
        described = rds.describe(target.kind, name)
        status = status_of(target.kind, described)
        if status in DEAD_STATES:
            raise ActionFailed(f"the restored {rds.label(target.kind, name)} is {status!r}; it will not become available")
        if status != "available":
            return PollAgain(after_seconds=params.poll_interval, state=state, evidence={"status": status, "restored": name})
        created: tuple[CreatedResource, ...] = ()
        if target.kind == CLUSTER:
            outcome = self._cluster_instance(params, ctx, rds, target, described, state)
            if isinstance(outcome, PollAgain):
                return outcome
            created = outcome
        return Done(evidence=self._evidence(target, described, state, ctx), created=created,
                    marks={"service_restored": ctx.now()})

    def _cluster_instance(self, params: Any, ctx: StepContext, rds: Rds, target: AwsTarget, cluster: dict[str, Any],
                          state: dict[str, Any]) -> PollAgain | tuple[CreatedResource, ...]:
        """A restored Aurora cluster has no instance: add one writer (tagged like the cluster) and wait for it."""
        instance_name = f"{state['name'][:61]}-1"
        existing = rds.find(INSTANCE, instance_name)
        if existing is None:
            source_class = state.get("instance_class") or params.instance_class
            if not source_class:
                source = rds.find(CLUSTER, target.resource)
                writer = writer_of(source) if source else None
                source_class = rds.instance(writer)["DBInstanceClass"] if writer else None
            if not source_class:
                raise ActionFailed(f"the restored {rds.label(CLUSTER, state['name'])} needs an instance: give "
                                   "params.instance_class (the source cluster has no writer to copy it from)")
            tags = drill_tags(ctx, params.ttl, **{FACT_TAGS["source"]: target.resource})
            rds.call(rds.label(INSTANCE, instance_name), "create_db_instance", DBInstanceIdentifier=instance_name,
                     DBClusterIdentifier=state["name"], Engine=cluster["Engine"], DBInstanceClass=source_class,
                     Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
            existing = rds.instance(instance_name)
        else:
            refuse_foreign(rds, INSTANCE, instance_name, existing, ctx)
        created = (created_resource(target, "db-instance", existing["DBInstanceArn"], instance_name, ctx, params.ttl,
                                    restored_from=target.resource, cluster=state["name"]),)
        state["instance"] = instance_name
        status = existing["DBInstanceStatus"]
        if status in DEAD_STATES:
            raise ActionFailed(f"{rds.label(INSTANCE, instance_name)} of the restored cluster is {status!r}")
        if status != "available":
            return PollAgain(after_seconds=params.poll_interval, state=state, created=created,
                             evidence={"status": f"instance {status}", "restored": state["name"]})
        return created

    def _evidence(self, target: AwsTarget, described: dict[str, Any], state: dict[str, Any],
                  ctx: StepContext) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "restored": state["name"], "restored_kind": kind_words(target.kind), "from": target.resource,
            "region": target.region, "account": target.account, "arn": arn_of(target.kind, described),
            "endpoint": (described.get("Endpoint") if target.kind == CLUSTER
                         else (described.get("Endpoint") or {}).get("Address")),
            "instance": state.get("instance"), "available_at": ctx.now().isoformat(),
            **{k: v for k, v in state.items() if k not in ("name", "instance")},
        }
        if state.get("restore_point") and state.get("requested_at"):
            point = datetime.fromisoformat(state["restore_point"])
            requested = datetime.fromisoformat(state["requested_at"])
            evidence["rpo_seconds"] = max((requested - point).total_seconds(), 0.0)
            evidence["rpo_method"] = self.rpo_method
        return evidence


@dataclass(frozen=True)
class RestorePointInTimeParams(RestoreParams):
    restore_time: str | None = None
    use_latest: bool = False

    def validate(self) -> None:
        super().validate()
        if self.restore_time and self.use_latest:
            raise ParamError("use_latest", "give restore_time or use_latest: true, not both")


class RestorePointInTime(_Restore):
    name = "aws.rds.restore_point_in_time"
    summary = ("Restore an RDS instance or Aurora cluster to a point in time as a new instance or cluster, "
               "wait until it is available, and report the RPO from AWS's restore metadata.")
    Params = RestorePointInTimeParams
    changes = "creates a new instance or cluster restored from automated backups (it costs money until deleted)"
    restore_words = "to"
    rpo_method = ("AWS metadata: restore requested at − restore point (the chosen time, or the LatestRestorableTime "
                  "read just before the request)")

    def describe(self, params: RestorePointInTimeParams, targets: dict[str, dict[str, Any]]) -> str:
        when = params.restore_time or "its latest restorable time"
        return (f"restores {describe_target(targets, params.target)} to {when} as a new copy"
                f"{region_words(targets, params.target)}, deleted after {format_duration(params.ttl)} at the latest")

    def _source_facts(self, params: RestorePointInTimeParams, ctx: StepContext, rds: Rds) -> dict[str, Any]:
        target = rds.target
        source = rds.describe(target.kind, target.resource)
        window = restorable_window(rds, target.kind, source, target.resource)
        if params.restore_time:
            point = parse_time(params.restore_time, "restore_time")
            check_inside_window(rds, target.kind, target.resource, point, window)
        else:
            point = window[1]
        facts = {"restore_point": iso(point), "use_latest": not params.restore_time,
                 "latest_restorable_time": iso(window[1]), "earliest_restorable_time": iso(window[0])}
        if target.kind == CLUSTER:
            writer = writer_of(source)
            if writer and not params.instance_class:
                facts["instance_class"] = rds.instance(writer)["DBInstanceClass"]
        return facts

    def _request(self, params: RestorePointInTimeParams, ctx: StepContext, rds: Rds, name: str, facts: dict[str, Any],
                 tags: list[dict[str, str]]) -> None:
        target = rds.target
        when: dict[str, Any] = ({"UseLatestRestorableTime": True} if facts["use_latest"]
                                else {"RestoreTime" if target.kind == INSTANCE else "RestoreToTime":
                                      datetime.fromisoformat(facts["restore_point"])})
        if target.kind == CLUSTER:
            rds.call(target.label, "restore_db_cluster_to_point_in_time", DBClusterIdentifier=name,
                     SourceDBClusterIdentifier=target.resource, Tags=tags, **when, **self._placement(params))
            return
        extra = self._placement(params)
        if params.instance_class:
            extra["DBInstanceClass"] = params.instance_class
        rds.call(target.label, "restore_db_instance_to_point_in_time", SourceDBInstanceIdentifier=target.resource,
                 TargetDBInstanceIdentifier=name, Tags=tags, DeletionProtection=False, **when, **extra)


@dataclass(frozen=True)
class RestoreSnapshotParams(RestoreParams):
    snapshot: str | None = None


class RestoreSnapshot(_Restore):
    name = "aws.rds.restore_snapshot"
    summary = ("Restore an RDS or Aurora snapshot as a new instance or cluster, wait until it is available, and "
               "report the RPO from the snapshot's creation time.")
    Params = RestoreSnapshotParams
    changes = "creates a new instance or cluster from a snapshot (it costs money until deleted)"
    restore_words = "from the snapshot taken at"
    rpo_method = "AWS metadata: restore requested at − the snapshot's SnapshotCreateTime"

    def describe(self, params: RestoreSnapshotParams, targets: dict[str, dict[str, Any]]) -> str:
        which = f"snapshot {params.snapshot}" if params.snapshot else "the newest snapshot"
        return (f"restores {which} of {describe_target(targets, params.target)} as a new copy"
                f"{region_words(targets, params.target)}, deleted after {format_duration(params.ttl)} at the latest")

    def _source_facts(self, params: RestoreSnapshotParams, ctx: StepContext, rds: Rds) -> dict[str, Any]:
        snapshot = self._choose(params, ctx, rds)
        created = snapshot.get("OriginalSnapshotCreateTime") or snapshot.get("SnapshotCreateTime")
        if snapshot.get("Status") != "available" or created is None:
            raise ActionFailed(f"snapshot {_snapshot_id(rds.target.kind, snapshot)} is {snapshot.get('Status')!r}, "
                               "not 'available': it cannot be restored yet")
        facts = {"snapshot": _snapshot_id(rds.target.kind, snapshot), "snapshot_type": snapshot.get("SnapshotType"),
                 "snapshot_create_time": iso(created), "restore_point": iso(created), "engine": snapshot.get("Engine")}
        return facts

    def _choose(self, params: RestoreSnapshotParams, ctx: StepContext, rds: Rds) -> dict[str, Any]:
        target = rds.target
        cluster = target.kind == CLUSTER
        if params.snapshot:
            label = f"snapshot {params.snapshot} ({target.where})"
            if cluster:
                return rds.call(label, "describe_db_cluster_snapshots",
                                DBClusterSnapshotIdentifier=params.snapshot)["DBClusterSnapshots"][0]
            return rds.call(label, "describe_db_snapshots", DBSnapshotIdentifier=params.snapshot)["DBSnapshots"][0]
        if cluster:
            found = rds.call(target.label, "describe_db_cluster_snapshots",
                             DBClusterIdentifier=target.resource)["DBClusterSnapshots"]
        else:
            found = rds.call(target.label, "describe_db_snapshots", DBInstanceIdentifier=target.resource)["DBSnapshots"]
        # Prefer a snapshot this drill took (an earlier aws.rds.create_snapshot step), else the newest one.
        ours = {r.identifier for r in ctx.created_resources if r.kind in ("db-snapshot", "db-cluster-snapshot")}
        arn = "DBClusterSnapshotArn" if cluster else "DBSnapshotArn"
        usable = [s for s in found if s.get("Status") == "available" and s.get("SnapshotCreateTime")]
        mine = [s for s in usable if s.get(arn) in ours]
        pool = mine or usable
        if not pool:
            raise ActionFailed(f"{target.label} has no available snapshot to restore; take one with "
                               "aws.rds.create_snapshot or name one in params.snapshot")
        return max(pool, key=lambda s: s["SnapshotCreateTime"])

    def _request(self, params: RestoreSnapshotParams, ctx: StepContext, rds: Rds, name: str, facts: dict[str, Any],
                 tags: list[dict[str, str]]) -> None:
        target = rds.target
        extra = self._placement(params)
        if target.kind == CLUSTER:
            rds.call(f"snapshot {facts['snapshot']} ({target.where})", "restore_db_cluster_from_snapshot",
                     DBClusterIdentifier=name, SnapshotIdentifier=facts["snapshot"], Engine=facts["engine"],
                     Tags=tags, **extra)
            return
        if params.instance_class:
            extra["DBInstanceClass"] = params.instance_class
        rds.call(f"snapshot {facts['snapshot']} ({target.where})", "restore_db_instance_from_db_snapshot",
                 DBInstanceIdentifier=name, DBSnapshotIdentifier=facts["snapshot"], Tags=tags,
                 DeletionProtection=False, **extra)


def _snapshot_id(kind: str, snapshot: dict[str, Any]) -> str:
    return snapshot["DBClusterSnapshotIdentifier"] if kind == CLUSTER else snapshot["DBSnapshotIdentifier"]
