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
        until = ctx.now() + timedelta(seconds=params.seconds)
        return PollAgain(after_seconds=params.seconds, state={"until": until.isoformat()})

    def poll(self, params: WaitParams, ctx: StepContext) -> Outcome:
        until = datetime.fromisoformat(ctx.state["until"])
        remaining = (until - ctx.now()).total_seconds()
        if remaining > 0:
            return PollAgain(after_seconds=remaining, state=dict(ctx.state))
        return Done(evidence={"waited_until": until.isoformat()})
