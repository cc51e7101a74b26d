"""What a runbook version will do, step by step, in a coordinator's words: the text each action's
``describe()`` gives from its parameters and the system's bindings, what it changes, and the targets
it touches. Nothing here touches the world, so the runbook page, the confirmation before a live
drill and a dry-run's rows can all show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .actions import ActionFailed, ParamError, get_action, parse_params
from .models import RunbookVersion, Step

SECRET_WORDS = ("password", "secret", "token", "key")
REFERENCE_SUFFIXES = ("_env", "_ref", "_service", "_file")


@dataclass(frozen=True)
class TargetShown:
    """A target binding as pages show it: references to secrets, never a secret."""

    name: str
    kind: str
    fields: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def where(self) -> str:
        """One line naming where the target is ("path=/srv/orders.sqlite3")."""
        return ", ".join(f"{key}={value}" for key, value in self.fields if not isinstance(value, (dict, list)))


def bindings_for_display(targets: dict[str, dict[str, Any]]) -> list[TargetShown]:
    """Bindings hold references to secrets, never secrets; should a value under a secret-sounding
    name slip in anyway, it is masked rather than shown."""
    shown = []
    for name, binding in sorted(targets.items()):
        fields = []
        for key, value in binding.items():
            if key == "kind":
                continue
            secret = any(w in key.lower() for w in SECRET_WORDS) and not key.lower().endswith(REFERENCE_SUFFIXES)
            fields.append((key, "••••••" if secret else value))
        shown.append(TargetShown(name=name, kind=str(binding.get("kind", "?")), fields=fields))
    return shown


@dataclass(frozen=True)
class StepPlan:
    position: int
    name: str
    action: str
    group: str
    does: str                    # "deletes the database file /srv/orders.sqlite3 (target 'db'): the outage"
    changes: str                 # the action's kind of change: "nothing", "the target database"
    targets: list[TargetShown]   # the bindings its parameters name
    problem: str = ""            # why the plan cannot be told (an unknown action, a bad parameter)

    @property
    def changes_something(self) -> bool:
        # "nothing", "nothing (read-only probes)": the catalogue's words for a step that only looks.
        return not self.changes.startswith("nothing") and not self.problem


def step_plan(step: Step, targets: dict[str, dict[str, Any]]) -> StepPlan:
    # A step names its bindings by parameter value (target, primary, source…): every one it names is shown.
    named = {value for value in step.params.values() if isinstance(value, str) and value in targets}
    touched = [t for t in bindings_for_display(targets) if t.name in named]
    common = {"position": step.position, "name": step.name, "action": step.action, "group": step.group,
              "targets": touched}
    try:
        action = get_action(step.action)
        does = action.describe(parse_params(action.Params, step.params), targets)
    except (ActionFailed, ParamError) as error:
        return StepPlan(**common, does="", changes="unknown", problem=str(error))
    return StepPlan(**common, does=does, changes=action.changes)


def version_plan(version: RunbookVersion, targets: dict[str, dict[str, Any]]) -> list[StepPlan]:
    """Every step of ``version`` against ``targets`` (the system's bindings, or a drill's pinned ones)."""
    return [step_plan(step, targets) for step in version.steps.order_by("position")]
