"""Steps done by people: the drill parks until a participant acts in the UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base import Action, Outcome, StepContext, WaitForPerson


@dataclass(frozen=True)
class ConfirmParams:
    instructions: str


class ManualConfirm(Action[ConfirmParams]):
    name = "manual.confirm"
    summary = "Park the drill until a participant confirms they did what the instructions say."
    Params = ConfirmParams
    phase = "people"
    changes = "nothing by itself; a person acts and confirms"

    def describe(self, params: ConfirmParams, targets: dict[str, dict[str, Any]]) -> str:
        return params.instructions

    def plan(self, params: ConfirmParams, ctx: StepContext) -> dict[str, Any]:
        return {"would": f"wait for a participant to confirm: {params.instructions}"}

    def run(self, params: ConfirmParams, ctx: StepContext) -> Outcome:
        return WaitForPerson(instructions=params.instructions)


@dataclass(frozen=True)
class ApprovalParams:
    instructions: str


class ApprovalGate(Action[ApprovalParams]):
    """The gate itself is enforced by the drill services: only an approver who did not start the
    drill may end this wait, and a rejection fails the drill."""

    name = "approval"
    summary = "Park the drill until an approver (not the person who started it) approves or rejects, with a comment."
    Params = ApprovalParams
    phase = "people"
    changes = "nothing by itself; an approver decides whether the drill goes on"
    is_approval_gate = True

    def describe(self, params: ApprovalParams, targets: dict[str, dict[str, Any]]) -> str:
        return f"an approver who did not start the drill decides: {params.instructions}"

    def plan(self, params: ApprovalParams, ctx: StepContext) -> dict[str, Any]:
        return {"would": f"wait for an approver's decision: {params.instructions}"}

    def run(self, params: ApprovalParams, ctx: StepContext) -> Outcome:
        return WaitForPerson(instructions=params.instructions)
