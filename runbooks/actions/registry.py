"""Where action families register themselves: their actions, the checks of their target bindings and
their canary writers. Nothing else lists them, so adding a family touches no shared file.

A family is a package below ``runbooks/actions/`` (found by ``load_families``), or any importable
package named in ``DRDRILL_ACTION_FAMILIES`` (comma-separated; an organisation's own actions). Its
``__init__.py`` calls ``register_family`` with *dotted paths*, not classes: the module behind an
action, and the SDK it uses, is imported the first time that action is asked for, so a worker that
never runs an AWS step never loads boto3.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import ActionFailed

if TYPE_CHECKING:
    from .base import Action

# "module:attribute", the module absolute or relative to the family package ("…" starting with ".").
DottedPath = str
BindingCheck = Callable[[dict[str, Any]], list[tuple[str, str]]]

EXTRA_FAMILIES_VARIABLE = "DRDRILL_ACTION_FAMILIES"


@dataclass(frozen=True)
class Family:
    """What one family adds. ``binding_kinds`` names the target kinds it defines (``kind:`` in a
    system's ``targets``), each with an optional check run at import."""

    name: str
    package: str
    actions: dict[str, DottedPath] = field(default_factory=dict)
    binding_checks: dict[str, DottedPath] = field(default_factory=dict)
    canary_writers: dict[str, DottedPath] = field(default_factory=dict)
    # Target kind -> function(binding) returning the policy Accesses a step on that target makes
    # (its files, hosts, URLs, secrets, programs, cloud accounts): checked before every call.
    binding_access: dict[str, DottedPath] = field(default_factory=dict)
    # Provider -> function(resource: CreatedResource, binding) -> bool: delete what a drill created
    # (True once it is gone, False while the provider is still deleting it; called again later).
    resource_cleaners: dict[str, DottedPath] = field(default_factory=dict)
    # Provider -> function(binding) -> list[CreatedResource]: what exists tagged by drdrill
    # (``details["drill"]`` the drill id from its tag), to find what a lost drill left behind.
    orphan_finders: dict[str, DottedPath] = field(default_factory=dict)
    binding_kinds: tuple[str, ...] = ()
    docs: str = ""


class Registry:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def add(self, family: Family) -> None:
        for other in self.families.values():
            if other.name == family.name:
                continue
            clash = set(other.actions) & set(family.actions)
            if clash:
                raise ValueError(f"action family {family.name!r} registers {', '.join(sorted(clash))}, "
                                 f"already registered by {other.name!r}")
        self.families[family.name] = family

    def _resolve(self, family: Family, dotted: DottedPath) -> Any:
        key = f"{family.package}|{dotted}"
        if key not in self._loaded:
            module_name, _, attribute = dotted.partition(":")
            module = importlib.import_module(module_name, package=family.package if module_name.startswith(".") else None)
            with self._lock:
                self._loaded[key] = getattr(module, attribute)
        return self._loaded[key]

    # --- actions --------------------------------------------------------------------------------

    def action_names(self) -> list[str]:
        return sorted(name for family in self.families.values() for name in family.actions)

    def family_of(self, action_name: str) -> Family | None:
        return next((f for f in self.families.values() if action_name in f.actions), None)

    def action(self, name: str) -> Action[Any]:
        family = self.family_of(name)
        if family is None:
            raise ActionFailed(f"unknown action {name!r}; known actions: {', '.join(self.action_names())}")
        key = f"instance|{name}"
        if key not in self._loaded:
            action = self._resolve(family, family.actions[name])()
            if action.name != name:
                raise ValueError(f"family {family.name!r} registers {name!r} for a class named {action.name!r}")
            with self._lock:
                self._loaded[key] = action
        return self._loaded[key]

    # --- bindings and canaries ------------------------------------------------------------------

    def binding_kinds(self) -> list[str]:
        return sorted({kind for f in self.families.values() for kind in (*f.binding_kinds, *f.binding_checks)})

    def binding_problems(self, binding: dict[str, Any]) -> list[tuple[str, str]]:
        kind = binding.get("kind", "")
        for family in self.families.values():
            if kind in family.binding_checks:
                check: BindingCheck = self._resolve(family, family.binding_checks[kind])
                return check(binding)
        return []

    def binding_access(self, binding: dict[str, Any]) -> list[Any]:
        kind = binding.get("kind", "")
        for family in self.families.values():
            if kind in family.binding_access:
                return list(self._resolve(family, family.binding_access[kind])(binding))
        return []

    def _provider_function(self, table: str, provider: str) -> Any:
        for family in self.families.values():
            paths = getattr(family, table)
            if provider in paths:
                return self._resolve(family, paths[provider])
        return None

    def resource_cleaner(self, provider: str) -> Any:
        cleaner = self._provider_function("resource_cleaners", provider)
        if cleaner is None:
            raise ActionFailed(f"no family deletes {provider} resources; registered: "
                               f"{', '.join(sorted(p for f in self.families.values() for p in f.resource_cleaners)) or 'none'}")
        return cleaner

    def orphan_finder(self, provider: str) -> Any:
        return self._provider_function("orphan_finders", provider)

    def providers_with_orphan_finders(self) -> dict[str, tuple[str, ...]]:
        """Provider -> the binding kinds of its family (where to look for orphans)."""
        return {provider: family.binding_kinds for family in self.families.values() for provider in family.orphan_finders}

    def canary_kinds(self) -> list[str]:
        return sorted(kind for f in self.families.values() for kind in f.canary_writers)

    def canary_writer_class(self, kind: str) -> type:
        for family in self.families.values():
            if kind in family.canary_writers:
                return self._resolve(family, family.canary_writers[kind])
        raise ActionFailed(f"no canary writer for targets of kind {kind!r}; supported: {', '.join(self.canary_kinds())}")


REGISTRY = Registry()
_families_loaded = False
_load_lock = threading.Lock()


def register_family(*, name: str, package: str, actions: dict[str, DottedPath] | None = None,
                    binding_checks: dict[str, DottedPath] | None = None,
                    canary_writers: dict[str, DottedPath] | None = None,
                    binding_access: dict[str, DottedPath] | None = None,
                    resource_cleaners: dict[str, DottedPath] | None = None,
                    orphan_finders: dict[str, DottedPath] | None = None,
                    binding_kinds: Iterable[str] = (), docs: str = "") -> Family:
    """Called by a family's ``__init__.py`` with ``package=__name__``."""
    family = Family(name=name, package=package, actions=dict(actions or {}),
                    binding_checks=dict(binding_checks or {}), canary_writers=dict(canary_writers or {}),
                    binding_access=dict(binding_access or {}), resource_cleaners=dict(resource_cleaners or {}),
                    orphan_finders=dict(orphan_finders or {}), binding_kinds=tuple(binding_kinds), docs=docs)
    REGISTRY.add(family)
    return family


def builtin_family_packages() -> list[str]:
    """Every package in this folder is a family."""
    return [f"{__package__}.{info.name}" for info in pkgutil.iter_modules([str(Path(__file__).parent)]) if info.ispkg]


def extra_family_packages() -> list[str]:
    return [name.strip() for name in os.environ.get(EXTRA_FAMILIES_VARIABLE, "").split(",") if name.strip()]


def load_families() -> Registry:
    """Import every family package (cheap: they hold only their registrations). Built-in families
    are imported once; a package named in DRDRILL_ACTION_FAMILIES since then is imported when next
    asked."""
    global _families_loaded
    with _load_lock:
        if not _families_loaded:
            for package in builtin_family_packages():
                importlib.import_module(package)
            _families_loaded = True
        for package in extra_family_packages():
            if package not in sys.modules:
                importlib.import_module(package)
    return REGISTRY
