"""Waiting without holding a worker: ``wait`` returns to the engine and is polled when due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..base import Action, Done, Outcome, PollAgain, StepContext, require_positive


@dataclass(frozen=True)
class WaitParams:
    seconds: float

    def validate(self) -> None:
        require_positive("seconds", self.seconds)


class Wait(Action[WaitParams]):
    name = "wait"
    summary = "Let time pass (e.g. keep writes flowing after a backup) without occupying a worker."
    Params = WaitParams
    changes = "nothing"

    def describe(self, params: WaitParams, targets: dict[str, dict[str, Any]]) -> str:
        return f"waits {params.seconds:g} s"

    def plan(self, params: WaitParams, ctx: StepContext) -> dict[str, Any]:
        return {"would": f"wait {params.seconds} s"}

    def run(self, params: WaitParams, ctx: StepContext) -> Outcome:
        # From the step's start as the claim recorded it (the measurement clock, read in the same
        # statement): no clock query of its own, and a step taken over from a lost worker keeps its
        # original end rather than waiting all over again.
        until = (ctx.started_at or ctx.now()) + timedelta(seconds=params.seconds)
        return PollAgain(after_seconds=params.seconds, state={"until": until.isoformat()})

    def poll(self, params: WaitParams, ctx: StepContext) -> Outcome:
        until = datetime.fromisoformat(ctx.state["until"])
        # The claim's clock reading is a moment before this call: never late, at worst one poll early.
        remaining = (until - (ctx.claimed_at or ctx.now())).total_seconds()
        if remaining > 0:
            return PollAgain(after_seconds=remaining, state=dict(ctx.state))
        return Done(evidence={"waited_until": until.isoformat()})
