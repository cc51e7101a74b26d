"""Moving the writer: an Aurora cluster's failover to one of its readers, and a Multi-AZ instance's
reboot with failover to its standby.

Every action here first *looks* (``run``: which instance writes, which one will take over) and
returns that in its PollAgain state, which the engine stores before anything is changed; only
``poll`` acts. A poll redelivered after its worker died mid-call therefore knows what the world
looked like before, and finds the new writer in place instead of failing over a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, PollAgain, StepContext, require_positive
from .bindings import CLUSTER, INSTANCE, AwsTarget, describe_target, region_words
from .client import tags_of
from .rds import Rds, check_available, metric_maximum, readers_of, writer_of

AWS_CALL_TIMEOUT = 30.0
# Written on a Multi-AZ instance before its reboot is requested: RDS has no idempotency token for a
# reboot, so this is how a redelivered step knows its lost attempt already asked for one.
REBOOT_TAG = "drdrill:reboot-requested"


@dataclass(frozen=True)
class FailoverClusterParams:
    target: str
    to_instance: str | None = None
    poll_interval: float = 5.0

    def validate(self) -> None:
        require_positive("poll_interval", self.poll_interval)


class FailoverCluster(Action[FailoverClusterParams]):
    name = "aws.rds.failover_cluster"
    summary = "Fail an Aurora cluster over to one of its readers and wait until that reader is the writer."
    Params = FailoverClusterParams
    target_kind = CLUSTER
    changes = "fails the Aurora cluster over: a reader becomes the writer, connections to the old writer drop"

    def call_timeout(self, params: FailoverClusterParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: FailoverClusterParams, targets: dict[str, dict[str, Any]]) -> str:
        to = f"instance {params.to_instance}" if params.to_instance else "its first reader in promotion order"
        return f"fails {describe_target(targets, params.target)} over to {to}{region_words(targets, params.target)}"

    def _look(self, params: FailoverClusterParams, ctx: StepContext) -> tuple[Rds, dict[str, Any], str, str | None]:
        target = AwsTarget.of(ctx, params.target, CLUSTER)
        rds = Rds(target)
        cluster = rds.cluster(target.resource)
        writer = writer_of(cluster)
        members = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])]
        if params.to_instance:
            if params.to_instance not in members:
                raise ActionFailed(f"instance {params.to_instance} is not a member of {target.label} "
                                   f"(members: {', '.join(members) or 'none'}); nothing was changed")
            return rds, cluster, params.to_instance, writer
        readers = readers_of(cluster)
        if not readers:
            raise ActionFailed(f"{target.label} has no reader to fail over to (members: {', '.join(members) or 'none'}); "
                               "nothing was changed")
        return rds, cluster, readers[0]["DBInstanceIdentifier"], writer

    def plan(self, params: FailoverClusterParams, ctx: StepContext) -> dict[str, Any]:
        rds, cluster, to, writer = self._look(params, ctx)
        if to == writer:
            return {"would": f"nothing: {to} already writes for {rds.target.label}", "writer_now": writer}
        check_available(rds, CLUSTER, cluster, rds.target.resource, "fail over")
        check_available(rds, INSTANCE, rds.instance(to), to, "take over as writer")
        return {"would": f"fail {rds.target.label} over from {writer} to {to} and wait until {to} writes",
                "writer_now": writer, "new_writer": to}

    def run(self, params: FailoverClusterParams, ctx: StepContext) -> Outcome:
        rds, cluster, to, writer = self._look(params, ctx)
        if to == writer:
            return Done(evidence={"cluster": rds.target.resource, "writer": writer, "already_writer": True,
                                  "failover_requested": False})
        check_available(rds, INSTANCE, rds.instance(to), to, "take over as writer")
        lag, lag_source = metric_maximum(rds.target, metric="AuroraReplicaLag", dimension="DBInstanceIdentifier",
                                         value=to, now=ctx.now())
        return PollAgain(after_seconds=0, state={"writer_before": writer, "to": to, "seen_at": ctx.now().isoformat(),
                                                 "replica_lag_ms": lag, "replica_lag_source": lag_source})

    def poll(self, params: FailoverClusterParams, ctx: StepContext) -> Outcome:
        target = AwsTarget.of(ctx, params.target, CLUSTER)
        rds = Rds(target)
        state = dict(ctx.state)
        cluster = rds.cluster(target.resource)
        writer = writer_of(cluster)
        if writer == state["to"] and cluster["Status"] == "available":
            return Done(evidence=self._evidence(target, state, writer, ctx), marks=_marks(state))
        if writer != state["to"] and cluster["Status"] == "available" and "requested_at" not in state:
            # The engine stored this step's look before this call: a redelivered poll that finds the
            # new writer in place ends above, one that does not asks here (once per stored state).
            state["requested_at"] = ctx.now().isoformat()
            rds.call(target.label, "failover_db_cluster", DBClusterIdentifier=target.resource,
                     TargetDBInstanceIdentifier=state["to"])
        return PollAgain(after_seconds=params.poll_interval, state=state,
                         evidence={"cluster_status": cluster["Status"], "writer_now": writer})

    def _evidence(self, target: AwsTarget, state: dict[str, Any], writer: str, ctx: StepContext) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "cluster": target.resource, "region": target.region, "account": target.account,
            "writer_before": state["writer_before"], "writer": writer, "writer_seen_at": ctx.now().isoformat(),
            "failover_requested_at": state.get("requested_at"),
            # The writer moved without a request of ours we know of: our lost attempt made it.
            "failed_over_by_an_earlier_attempt": "requested_at" not in state,
            "replica_lag_before_ms": state.get("replica_lag_ms"), "replica_lag_source": state.get("replica_lag_source"),
        }
        if state.get("replica_lag_ms") is not None:
            evidence["rpo_seconds"] = state["replica_lag_ms"] / 1000.0
            evidence["rpo_method"] = ("AWS metadata: AuroraReplicaLag of the new writer, highest in the 5 minutes "
                                      "before the failover (an upper bound: Aurora readers share the cluster volume)")
        return evidence


def _marks(state: dict[str, Any]) -> dict[str, datetime]:
    """The outage starts when the failover was asked for: the old writer's connections drop then."""
    return {"outage_start": datetime.fromisoformat(state["requested_at"])} if state.get("requested_at") else {}


@dataclass(frozen=True)
class RebootWithFailoverParams:
    target: str
    poll_interval: float = 5.0

    def validate(self) -> None:
        require_positive("poll_interval", self.poll_interval)


class RebootWithFailover(Action[RebootWithFailoverParams]):
    name = "aws.rds.reboot_with_failover"
    summary = "Reboot a Multi-AZ RDS instance with ForceFailover, so its standby takes over, and wait until it is available."
    Params = RebootWithFailoverParams
    target_kind = INSTANCE
    changes = ("reboots the Multi-AZ instance with failover: the standby in the other zone becomes primary, "
               "connections drop for the failover's duration")

    def call_timeout(self, params: RebootWithFailoverParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: RebootWithFailoverParams, targets: dict[str, dict[str, Any]]) -> str:
        return (f"reboots {describe_target(targets, params.target)} with failover to its Multi-AZ standby"
                f"{region_words(targets, params.target)}")

    def _look(self, params: RebootWithFailoverParams, ctx: StepContext) -> tuple[Rds, dict[str, Any]]:
        target = AwsTarget.of(ctx, params.target, INSTANCE)
        rds = Rds(target)
        instance = rds.instance(target.resource)
        if not instance.get("MultiAZ"):
            raise ActionFailed(f"{target.label} is not Multi-AZ: a reboot with ForceFailover needs a standby in a "
                               "second zone; nothing was changed")
        return rds, instance

    def plan(self, params: RebootWithFailoverParams, ctx: StepContext) -> dict[str, Any]:
        rds, instance = self._look(params, ctx)
        check_available(rds, INSTANCE, instance, rds.target.resource, "reboot with failover")
        return {"would": f"reboot {rds.target.label} with ForceFailover: its standby in "
                         f"{instance.get('SecondaryAvailabilityZone') or 'the other zone'} becomes primary",
                "zone_now": instance.get("AvailabilityZone")}

    def run(self, params: RebootWithFailoverParams, ctx: StepContext) -> Outcome:
        rds, instance = self._look(params, ctx)
        if not _requested_by(instance, ctx):
            check_available(rds, INSTANCE, instance, rds.target.resource, "reboot with failover")
        return PollAgain(after_seconds=0, state={"zone_before": instance.get("AvailabilityZone"),
                                                 "secondary_zone_before": instance.get("SecondaryAvailabilityZone")})

    def poll(self, params: RebootWithFailoverParams, ctx: StepContext) -> Outcome:
        rds, instance = self._look(params, ctx)
        target = rds.target
        state = dict(ctx.state)
        requested = _requested_by(instance, ctx)
        status = instance["DBInstanceStatus"]
        if requested is None:
            check_available(rds, INSTANCE, instance, target.resource, "reboot with failover")
            now = ctx.now().isoformat()
            # The intent goes on the instance first: the engine's copy of this state is only written
            # when this call returns, and a reboot must not be asked for twice.
            rds.add_tags(instance["DBInstanceArn"], target.label, {REBOOT_TAG: f"{ctx.idempotency_key} {now}"})
            rds.call(target.label, "reboot_db_instance", DBInstanceIdentifier=target.resource, ForceFailover=True)
            state.update(requested_at=now, requested_by_this_attempt=True)
            return PollAgain(after_seconds=params.poll_interval, state=state, evidence={"status": "rebooting"})
        state.setdefault("requested_at", requested)
        if status != "available":
            state["seen_rebooting"] = True
            return PollAgain(after_seconds=params.poll_interval, state=state, evidence={"status": status})
        zone = instance.get("AvailabilityZone")
        return Done(evidence={
            "instance": target.resource, "region": target.region, "account": target.account,
            "reboot_requested_at": state["requested_at"], "available_at": ctx.now().isoformat(),
            "zone_before": state.get("zone_before"), "zone_after": zone,
            "secondary_zone_after": instance.get("SecondaryAvailabilityZone"),
            "zone_changed": zone != state.get("zone_before"),
            "seen_rebooting": bool(state.get("seen_rebooting")),
            "rebooted_by_an_earlier_attempt": not state.get("requested_by_this_attempt"),
        }, marks={"outage_start": datetime.fromisoformat(state["requested_at"])})


def _requested_by(instance: dict[str, Any], ctx: StepContext) -> str | None:
    """When this step asked for the reboot (an earlier attempt included), from the instance's tag."""
    value = tags_of(instance.get("TagList")).get(REBOOT_TAG, "")
    key, _, at = value.partition(" ")
    return at if key == ctx.idempotency_key and at else None

