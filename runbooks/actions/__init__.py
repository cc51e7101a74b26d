"""How a runbook step touches the world: the action interface (``base``), and the families of actions
that register themselves (``registry``; one package per family below this folder).

Everything outside this package asks for actions, binding checks and canary writers through the
functions here. Writing a family: docs/actions.md#writing-a-family.
"""

from __future__ import annotations

from typing import Any, Protocol

from .base import (
    Action,
    ActionFailed,
    CreatedResource,
    Done,
    Outcome,
    ParamError,
    PollAgain,
    StepContext,
    WaitForPerson,
    parse_params,
)
from .registry import Family, load_families, register_family


class CanaryWriter(Protocol):
    def describe(self) -> str: ...
    def check(self) -> None: ...
    def write(self, drill_id: int, seq: int, written_at: Any) -> None: ...
    def newest(self, drill_id: int) -> dict[str, Any] | None: ...


def get_action(name: str) -> Action[Any]:
    return load_families().action(name)


def action_names() -> list[str]:
    return load_families().action_names()


def is_known_action(name: object) -> bool:
    return isinstance(name, str) and load_families().family_of(name) is not None


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    """Checks of a target binding by its kind, run at import: (field, message) for each problem."""
    return load_families().binding_problems(binding)


def binding_access(binding: dict[str, Any]) -> list[Any]:
    """The policy accesses a step on this binding makes (its family says which)."""
    return load_families().binding_access(binding)


def accesses_of(action: Action[Any], params: Any, ctx: StepContext) -> list[Any]:
    """Everything a step will touch, to be checked against the worker's policy before any call:
    its ``target``'s binding, and what its parameters name."""
    accesses = []
    target = getattr(params, "target", None)
    if isinstance(target, str):
        accesses += binding_access(ctx.target(target))
    return accesses + list(action.touches(params, ctx))


def canary_kinds() -> list[str]:
    return load_families().canary_kinds()


def canary_writer(binding: dict[str, Any]) -> CanaryWriter:
    return load_families().canary_writer_class(str(binding.get("kind")))(binding)


def families() -> list[Family]:
    return list(load_families().families.values())


__all__ = [
    "Action", "ActionFailed", "CanaryWriter", "CreatedResource", "Done", "Family", "Outcome", "ParamError", "PollAgain", "StepContext",
    "WaitForPerson", "accesses_of", "action_names", "binding_access", "binding_problems", "canary_kinds", "canary_writer", "families", "get_action",
    "is_known_action", "parse_params", "register_family",
]
