"""The catalogue of step actions, by name, and the canary writers, by target kind.

Adding an action: write a class in the module of its family and list it here. See docs/actions.md.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, WaitForPerson, parse_params
from .http import HttpRequest, HttpWaitHealthy
from .human import Approval, ManualConfirm
from .postgres import (
    PostgresBackup,
    PostgresBaseline,
    PostgresCanary,
    PostgresFault,
    PostgresPromote,
    PostgresRebuildStandby,
    PostgresReplicationStatus,
    PostgresRestore,
    PostgresSwitchover,
    PostgresVerify,
    PostgresWaitHealthy,
)
from .postgres import binding_problems as postgres_binding_problems
from .sqlite import SqliteBackup, SqliteCanary, SqliteFault, SqliteRestore
from .timing import Wait

CATALOGUE: dict[str, Action[Any]] = {
    action.name: action
    for action in (
        HttpRequest(),
        HttpWaitHealthy(),
        SqliteBackup(),
        SqliteRestore(),
        SqliteFault(),
        PostgresReplicationStatus(),
        PostgresWaitHealthy(),
        PostgresFault(),
        PostgresPromote(),
        PostgresSwitchover(),
        PostgresRebuildStandby(),
        PostgresBackup(),
        PostgresRestore(),
        PostgresBaseline(),
        PostgresVerify(),
        Wait(),
        ManualConfirm(),
        Approval(),
    )
}


class CanaryWriter(Protocol):
    def describe(self) -> str: ...
    def check(self) -> None: ...
    def write(self, drill_id: int, seq: int, written_at: Any) -> None: ...
    def newest(self, drill_id: int) -> dict[str, Any] | None: ...


CANARY_WRITERS: dict[str, type] = {"sqlite": SqliteCanary, "postgres": PostgresCanary}

# Checks of a target binding by kind, run at import: (field, message) for each problem.
BINDING_CHECKS: dict[str, Callable[[dict[str, Any]], list[tuple[str, str]]]] = {"postgres": postgres_binding_problems}


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    check = BINDING_CHECKS.get(binding.get("kind", ""))
    return check(binding) if check else []


def get_action(name: str) -> Action[Any]:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ActionFailed(f"unknown action {name!r}; known actions: {', '.join(sorted(CATALOGUE))}") from None


def canary_writer(binding: dict[str, Any]) -> CanaryWriter:
    kind = binding.get("kind")
    if kind not in CANARY_WRITERS:
        raise ActionFailed(f"no canary writer for targets of kind {kind!r}; supported: {', '.join(CANARY_WRITERS)}")
    return CANARY_WRITERS[kind](binding)


__all__ = [
    "CATALOGUE", "CANARY_WRITERS", "Action", "ActionFailed", "Done", "Outcome", "ParamError", "PollAgain",
    "StepContext", "WaitForPerson", "binding_problems", "canary_writer", "get_action", "parse_params",
]
