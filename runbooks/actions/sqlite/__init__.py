"""SQLite targets: online backup, restore, fault injection and the canary writer."""

from ..registry import register_family

register_family(
    name="sqlite",
    package=__name__,
    actions={"sqlite.backup": ".actions:SqliteBackup", "sqlite.restore": ".actions:SqliteRestore",
             "sqlite.fault": ".actions:SqliteFault"},
    canary_writers={"sqlite": ".actions:SqliteCanary"},
    binding_checks={"sqlite": ".bindings:binding_problems"},
    binding_access={"sqlite": ".access:binding_access"},
    binding_kinds=("sqlite",),
    docs="docs/actions.md#sqlite",
)
