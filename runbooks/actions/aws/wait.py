"""Waiting until an RDS instance or Aurora cluster is available: the target's own, one named, or the
copy an earlier restore step made. Read-only; it marks ``service_restored`` when it sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, require_positive
from .bindings import CLUSTER, INSTANCE, AwsTarget, describe_target, region_words
from .rds import DEAD_STATES, DEFAULT_POLL_SECONDS, Rds, status_of
from .restore import AWS_CALL_TIMEOUT, kind_words


@dataclass(frozen=True)
class WaitAvailableParams:
    target: str
    name: str | None = None
    from_step: str | None = None
    poll_interval: float = DEFAULT_POLL_SECONDS

    def validate(self) -> None:
        require_positive("poll_interval", self.poll_interval)
        if self.name and self.from_step:
            raise ParamError("from_step", "give name or from_step, not both")


class WaitAvailable(Action[WaitAvailableParams]):
    name = "aws.rds.wait_available"
    summary = "Wait until an RDS instance or Aurora cluster (the target's, a named one, or one an earlier step restored) is available."
    Params = WaitAvailableParams
    target_kind = (CLUSTER, INSTANCE)
    phase = "verify"
    changes = "nothing (describe calls only)"

    def call_timeout(self, params: WaitAvailableParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: WaitAvailableParams, targets: dict[str, dict[str, Any]]) -> str:
        what = (params.name or (f"the copy restored by step {params.from_step}" if params.from_step
                                else describe_target(targets, params.target)))
        return f"waits until {what} is available{region_words(targets, params.target)}"

    def _which(self, params: WaitAvailableParams, ctx: StepContext, target: AwsTarget) -> str:
        if params.name:
            return params.name
        if params.from_step:
            earlier = ctx.earlier.get(params.from_step)
            if not earlier or not earlier.get("restored"):
                raise ActionFailed(f"params.from_step: step {params.from_step!r} has not restored anything in this drill")
            return str(earlier["restored"])
        return target.resource

    def plan(self, params: WaitAvailableParams, ctx: StepContext) -> dict[str, Any]:
        target = AwsTarget.of(ctx, params.target, CLUSTER, INSTANCE)
        if params.from_step:
            return {"would": f"wait until the {kind_words(target.kind)} restored by step {params.from_step!r} is available"}
        name = self._which(params, ctx, target)
        described = Rds(target).describe(target.kind, name)
        return {"would": f"wait until {name} is available", "status_now": status_of(target.kind, described)}

    def run(self, params: WaitAvailableParams, ctx: StepContext) -> Outcome:
        return self.poll(params, ctx)

    def poll(self, params: WaitAvailableParams, ctx: StepContext) -> Outcome:
        target = AwsTarget.of(ctx, params.target, CLUSTER, INSTANCE)
        rds = Rds(target)
        name = self._which(params, ctx, target)
        described = rds.describe(target.kind, name)
        status = status_of(target.kind, described)
        if status in DEAD_STATES:
            raise ActionFailed(f"{rds.label(target.kind, name)} is {status!r}; it will not become available")
        if status != "available":
            return PollAgain(after_seconds=params.poll_interval, evidence={"status": status, "waiting_for": name})
        now = ctx.now()
        return Done(evidence={"available": name, "kind": kind_words(target.kind), "available_at": now.isoformat(),
                              "region": target.region}, marks={"service_restored": now})
