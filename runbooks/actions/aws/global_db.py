"""Aurora Global Database: move the writer to a secondary cluster in another region, planned
(switchover: waits until the secondary is in sync, loses nothing) or unplanned (failover with data
loss allowed: the secondary takes over at once, losing what it had not yet replicated).

Like the in-region failover, ``run`` only looks and ``poll`` acts; a redelivered poll finds the
switch in progress (``FailoverState``) or done (the new writer) and does not ask again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, require_positive
from ..policy import CloudAccess
from .bindings import GLOBAL_CLUSTER, AwsTarget, describe_target
from .rds import Rds, metric_maximum

AWS_CALL_TIMEOUT = 30.0


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, cluster id) of an Aurora cluster ARN."""
    parts = arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] != "cluster":
        raise ParamError("to_cluster", f"must be an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<id>), got {arn!r}")
    return parts[3], parts[4], parts[6]


@dataclass(frozen=True)
class GlobalSwitchParams:
    target: str
    to_cluster: str
    poll_interval: float = 10.0

    def validate(self) -> None:
        arn_parts(self.to_cluster)
        require_positive("poll_interval", self.poll_interval)


class _GlobalSwitch(Action[GlobalSwitchParams]):
    Params = GlobalSwitchParams
    target_kind = GLOBAL_CLUSTER
    operation = ""
    verb = ""

    def call_timeout(self, params: GlobalSwitchParams) -> float:
        return AWS_CALL_TIMEOUT

    def touches(self, params: GlobalSwitchParams, ctx: StepContext) -> list[Any]:
        # The new writer's region is acted in too (and its replication lag read there).
        region, account, _ = arn_parts(params.to_cluster)
        return [CloudAccess("aws", account, region)]

    def describe(self, params: GlobalSwitchParams, targets: dict[str, dict[str, Any]]) -> str:
        region, _, cluster = arn_parts(params.to_cluster)
        return f"{self.verb} {describe_target(targets, params.target)} to cluster {cluster} in {region}"

    def _global(self, params: GlobalSwitchParams, ctx: StepContext) -> tuple[Rds, dict[str, Any]]:
        target = AwsTarget.of(ctx, params.target, GLOBAL_CLUSTER)
        rds = Rds(target)
        found = rds.call(target.label, "describe_global_clusters",
                         GlobalClusterIdentifier=target.resource)["GlobalClusters"]
        if not found:
            raise ActionFailed(f"{target.label} was not found")
        return rds, found[0]

    def _look(self, params: GlobalSwitchParams, ctx: StepContext) -> tuple[Rds, dict[str, Any], str | None]:
        rds, global_cluster = self._global(params, ctx)
        members = {m["DBClusterArn"]: m for m in global_cluster.get("GlobalClusterMembers", [])}
        if params.to_cluster not in members:
            raise ActionFailed(f"cluster {params.to_cluster} is not a member of {rds.target.label} (members: "
                               f"{', '.join(members) or 'none'}); nothing was changed")
        return rds, global_cluster, _writer(global_cluster)

    def plan(self, params: GlobalSwitchParams, ctx: StepContext) -> dict[str, Any]:
        rds, global_cluster, writer = self._look(params, ctx)
        if writer == params.to_cluster:
            return {"would": f"nothing: {params.to_cluster} already writes for {rds.target.label}", "writer_now": writer}
        if global_cluster.get("FailoverState"):
            raise ActionFailed(f"{rds.target.label} is already switching writers ({global_cluster['FailoverState']})")
        return {"would": f"{self.verb} {rds.target.label} from {writer} to {params.to_cluster}", "writer_now": writer,
                "status_now": global_cluster.get("Status")}

    def run(self, params: GlobalSwitchParams, ctx: StepContext) -> Outcome:
        rds, global_cluster, writer = self._look(params, ctx)
        if writer == params.to_cluster and not global_cluster.get("FailoverState"):
            return Done(evidence={"global_cluster": rds.target.resource, "writer": writer, "already_writer": True})
        region, _, cluster = arn_parts(params.to_cluster)
        lag, source = metric_maximum(rds.target, metric=self.lag_metric, dimension="DBClusterIdentifier", value=cluster,
                                     now=ctx.now(), region=region)
        return PollAgain(after_seconds=0, state={"writer_before": writer, "lag_ms": lag, "lag_source": source,
                                                 "seen_at": ctx.now().isoformat()})

    def poll(self, params: GlobalSwitchParams, ctx: StepContext) -> Outcome:
        rds, global_cluster, writer = self._look(params, ctx)
        state = dict(ctx.state)
        in_progress = global_cluster.get("FailoverState")
        if writer == params.to_cluster and not in_progress and global_cluster.get("Status") == "available":
            return Done(evidence=self._evidence(rds, state, writer, ctx), marks=self._marks(state))
        if not in_progress and writer != params.to_cluster and "requested_at" not in state:
            state["requested_at"] = ctx.now().isoformat()
            rds.call(rds.target.label, self.operation, **self._arguments(rds, params))
        return PollAgain(after_seconds=params.poll_interval, state=state,
                         evidence={"writer_now": writer, "failover_state": in_progress})

    def _arguments(self, rds: Rds, params: GlobalSwitchParams) -> dict[str, Any]:
        return {"GlobalClusterIdentifier": rds.target.resource, "TargetDbClusterIdentifier": params.to_cluster}

    def _marks(self, state: dict[str, Any]) -> dict[str, datetime]:
        return {"outage_start": datetime.fromisoformat(state["requested_at"])} if state.get("requested_at") else {}

    def _evidence(self, rds: Rds, state: dict[str, Any], writer: str | None, ctx: StepContext) -> dict[str, Any]:
        return {"global_cluster": rds.target.resource, "writer_before": state.get("writer_before"), "writer": writer,
                "writer_seen_at": ctx.now().isoformat(), "requested_at": state.get("requested_at"),
                "switched_by_an_earlier_attempt": "requested_at" not in state,
                f"{self.lag_metric}_before_ms": state.get("lag_ms"), "lag_source": state.get("lag_source")}

    lag_metric = "AuroraGlobalDBReplicationLag"


def _writer(global_cluster: dict[str, Any]) -> str | None:
    return next((m["DBClusterArn"] for m in global_cluster.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)


class GlobalSwitchover(_GlobalSwitch):
    name = "aws.rds.global_switchover"
    summary = "Planned, lossless switchover of an Aurora Global Database's writer to a secondary cluster in another region."
    changes = ("makes a secondary cluster of the global database its writer once it is in sync; the old writer "
               "becomes a secondary")
    operation = "switchover_global_cluster"
    verb = "switches over"

    def _evidence(self, rds: Rds, state: dict[str, Any], writer: str | None, ctx: StepContext) -> dict[str, Any]:
        evidence = super()._evidence(rds, state, writer, ctx)
        # A switchover waits until the secondary has every committed transaction.
        evidence.update(rpo_seconds=0.0, rpo_method="AWS semantics: a global switchover completes only once the "
                                                    "secondary is in sync (replication lag before it is in the evidence)")
        return evidence


class GlobalFailover(_GlobalSwitch):
    name = "aws.rds.global_failover"
    summary = ("Unplanned failover of an Aurora Global Database to a secondary cluster in another region, "
               "allowing data loss; the RPO is the secondary's replication lag before it.")
    changes = ("makes a secondary cluster of the global database its writer at once, losing what it had not "
               "replicated; the old writer is detached until it is rebuilt")
    operation = "failover_global_cluster"
    verb = "fails over"
    lag_metric = "AuroraGlobalDBRPOLag"

    def _arguments(self, rds: Rds, params: GlobalSwitchParams) -> dict[str, Any]:
        return {**super()._arguments(rds, params), "AllowDataLoss": True}

    def _evidence(self, rds: Rds, state: dict[str, Any], writer: str | None, ctx: StepContext) -> dict[str, Any]:
        evidence = super()._evidence(rds, state, writer, ctx)
        if state.get("lag_ms") is not None:
            evidence.update(rpo_seconds=state["lag_ms"] / 1000.0,
                            rpo_method="AWS metadata: AuroraGlobalDBRPOLag of the new writer, highest in the 5 minutes "
                                       "before the failover")
        return evidence
