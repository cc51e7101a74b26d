"""The action interface: how a runbook step touches the world.

An action is a small class with a typed ``Params`` dataclass (validated when a runbook is imported),
``plan()`` for dry-runs, ``run()`` to start the work and ``poll()`` to follow a long operation. Every
call must return within ``call_timeout()`` seconds: a worker never sleeps through a long wait, it
returns ``PollAgain`` and the engine schedules the next poll. ``run()`` may be called again after a
worker died mid-call, so it checks the real state before acting (see docs/actions.md).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Generic, TypeVar, Union


class ParamError(ValueError):
    """A parameter is missing, unknown or of the wrong form. ``field`` names it for the author."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"params.{field_name}: {message}")
        self.field = field_name
        self.message = message


class ActionFailed(Exception):
    """The step failed for a reason the participant can act on; the message is shown as is."""


@dataclass(frozen=True)
class CreatedResource:
    """Something a step created in the world that costs money or risk until it is deleted (a
    restored database, a snapshot). The engine records it against the drill the moment the step
    reports it; a cleanup step, or the sweep once ``ttl_seconds`` have passed, deletes it through
    the family's registered cleaner. Create it tagged with the drill (``ctx.drill_tag``), so a
    resource whose record was lost is still found as an orphan."""

    provider: str                    # the family: "aws", "azure"
    kind: str                        # what it is, in the provider's words: "db-instance", "sql-database"
    identifier: str                  # the provider's unique id (an ARN, a resource id)
    target: str = ""                 # the binding it was created through (its credentials and region)
    region: str = ""
    account: str = ""
    ttl_seconds: float | None = None  # delete after this long unless a cleanup step does it first
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    """The step finished. ``marks`` may pin a measurement mark to a precise time (e.g. the first
    successful health probe) instead of the step's finish time. ``created`` lists what the step
    created; ``deleted`` the identifiers of created resources it deleted (a cleanup step)."""

    evidence: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, datetime] = field(default_factory=dict)
    created: tuple[CreatedResource, ...] = ()
    deleted: tuple[str, ...] = ()


@dataclass(frozen=True)
class PollAgain:
    """Not finished: call ``poll()`` again after ``after_seconds`` with ``state`` kept for it.
    ``created`` is recorded at once, so a drill lost while waiting still knows what it made."""

    after_seconds: float
    state: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    created: tuple[CreatedResource, ...] = ()


@dataclass(frozen=True)
class WaitForPerson:
    """Park the drill until a participant acts in the UI."""

    instructions: str


Outcome = Union[Done, PollAgain, WaitForPerson]


@dataclass(frozen=True)
class StepContext:
    """Everything an action may know about the step it runs. Built by the engine."""

    drill_id: int
    step_key: str
    attempt: int
    targets: dict[str, dict[str, Any]]
    # Evidence of the steps that already finished in this drill, by step key.
    earlier: dict[str, dict[str, Any]]
    # The continuation kept between polls (what PollAgain.state returned last time).
    state: dict[str, Any]
    # Stable across redeliveries of the same step run: send it where an API takes idempotency keys.
    idempotency_key: str
    # The measurement clock (the drdrill database's clock where it has one).
    now: Callable[[], datetime]
    started_at: datetime | None = None
    # When the worker took the step for this call, on the measurement clock (read by the claim
    # itself): "has the time come?" needs no clock query of its own.
    claimed_at: datetime | None = None
    # Resources earlier steps of this drill created and nobody deleted yet (what a cleanup step deletes).
    created_resources: tuple[CreatedResource, ...] = ()
    # The worker's execution policy (runbooks/actions/policy.py). The engine checks what a step
    # declares before calling it; an action checks here what it only learns while running (a tool
    # found on the PATH, a backup file named by an earlier step).
    policy: Any = None

    def allow(self, *accesses: Any) -> None:
        """Raise PolicyRefused unless the worker's policy allows every access."""
        if self.policy is not None:
            self.policy.check_all(accesses)

    @property
    def drill_tag(self) -> dict[str, str]:
        """Tags to put on anything the step creates, so drdrill can find it again."""
        return {"drdrill:drill": str(self.drill_id), "drdrill:step": self.step_key}

    def target(self, name: str) -> dict[str, Any]:
        try:
            return self.targets[name]
        except KeyError:
            raise ActionFailed(f"the system binds no target named {name!r}") from None


P = TypeVar("P")


class Action(Generic[P]):
    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type]
    # Which kind of system target the ``target`` parameter must name, if the action takes one (or a
    # tuple of kinds it accepts).
    target_kind: ClassVar[str | tuple[str, ...] | None] = None
    # Where the time of this step goes in the RTO breakdown: "recover", "verify" or "people".
    phase: ClassVar[str] = "recover"
    # What the action changes, in words, for the catalogue and the dry-run report.
    changes: ClassVar[str] = "nothing"
    # Only an approver who did not start the drill may end this step's wait (never a confirmation or a skip).
    is_approval_gate: ClassVar[bool] = False

    def call_timeout(self, params: P) -> float:
        """Upper bound of one run()/poll() call; a claim held longer is presumed dead."""
        return 30.0

    def describe(self, params: P, targets: dict[str, dict[str, Any]]) -> str:
        """What run() would do, in a coordinator's words ("stops PostgreSQL on db-1 (127.0.0.1:5433)",
        "deletes /srv/orders.sqlite3"), from the parameters and the system's bindings alone: it
        touches nothing, so the confirmation page, a tabletop and the runbook page can show it."""
        return self.changes

    def touches(self, params: P, ctx: StepContext) -> list[Any]:
        """What this step reaches beyond its ``target``'s binding (whose accesses its family
        registers): files, URLs, hosts, secrets, programs, cloud accounts named by its parameters,
        as ``runbooks.actions.policy`` Access values. The engine checks them all against the
        worker's policy before plan(), run() or poll() is called."""
        return []

    def plan(self, params: P, ctx: StepContext) -> dict[str, Any]:
        """Check parameters, credentials and that the resources exist; change nothing."""
        return {"would": self.changes}

    def run(self, params: P, ctx: StepContext) -> Outcome:
        raise NotImplementedError

    def poll(self, params: P, ctx: StepContext) -> Outcome:
        raise ActionFailed(f"{self.name} does not poll")


# --- typed parameter parsing --------------------------------------------------------------------

# A year in seconds: no timeout, interval or count in a drill is larger (and larger ones overflow).
MAX_NUMBER = 366 * 86400

def parse_params(schema: type, raw: object) -> Any:
    """Build ``schema`` (a dataclass) from YAML data, or raise ParamError naming the field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamError("", f"must be a mapping of names to values, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter; this action takes: {', '.join(fields) or 'none'}")
    hints = typing.get_type_hints(schema)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamError(name, "is required")
            continue
        values[name] = _coerce(name, hints[name], raw[name])
    instance = schema(**values)
    validate = getattr(instance, "validate", None)
    if validate is not None:
        validate()
    return instance


def _coerce(name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, options[0], value)
    if origin is list:
        if not isinstance(value, list):
            raise ParamError(name, f"must be a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(f"{name}[{i}]", item, v) for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ParamError(name, f"must be a mapping, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamError(name, f"must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(name, f"must be a whole number, got {value!r}")
        if abs(value) > MAX_NUMBER:
            raise ParamError(name, f"must be at most {MAX_NUMBER:g}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParamError(name, f"must be a number, got {value!r}")
        if abs(value) > MAX_NUMBER:
            raise ParamError(name, f"must be at most {MAX_NUMBER:g}, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise ParamError(name, f"must be a non-empty text, got {value!r}")
        if "\x00" in value:
            raise ParamError(name, "must not contain a NUL character")
        return value
    return value


def require_positive(name: str, value: float | int | None) -> None:
    if value is not None and value <= 0:
        raise ParamError(name, f"must be greater than zero, got {value}")
