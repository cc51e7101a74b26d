"""The business impact analysis: systems by tier with their targets and dependencies, the recovery
order the dependencies impose, and every place where the plan cannot hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

from runbooks.durations import format_duration
from runbooks.models import System

from .achieved import with_last_achieved

# The handbook's tier bands (RTO, RPO) in seconds, both ends inclusive; None: no bound.
TIER_BANDS: dict[int, tuple[tuple[int, int | None], tuple[int, int | None]]] = {
    0: ((0, 3600), (0, 300)),
    1: ((3600, 4 * 3600), (15 * 60, 3600)),
    2: ((4 * 3600, 24 * 3600), (3600, 4 * 3600)),
    3: ((24 * 3600, 72 * 3600), (4 * 3600, 24 * 3600)),
    4: ((72 * 3600, None), (24 * 3600, None)),
}


class WarningKind:
    TIGHTER_THAN_DEPENDENCY = "tighter_than_dependency"
    DEPENDENCY_ACHIEVED = "dependency_achieved"
    CYCLE = "cycle"
    NEVER_DRILLED_LIVE = "never_drilled_live"
    OUTSIDE_BAND = "outside_band"


@dataclass(frozen=True)
class BiaWarning:
    kind: str
    system: str  # slug of the system the warning is about
    message: str


@dataclass
class Bia:
    systems: list[System]
    dependencies: dict[int, list[int]]  # system id → ids of the systems it depends on
    cycles: list[list[System]]
    waves: list[list[System]]  # recovery order: each wave needs only earlier waves
    warnings: list[BiaWarning] = field(default_factory=list)

    @property
    def by_tier(self) -> list[tuple[int, list[System]]]:
        tiers: dict[int, list[System]] = {}
        for system in self.systems:
            tiers.setdefault(system.tier, []).append(system)
        return sorted(tiers.items())


def band_text(low: int, high: int | None) -> str:
    return f"over {format_duration(low)}" if high is None else f"{format_duration(low)}–{format_duration(high)}"


def business_impact_analysis(systems: Iterable[System] | None = None) -> Bia:
    """Systems come annotated with their last achieved figures (achieved.with_last_achieved)."""
    if systems is None:
        systems = with_last_achieved(System.objects.order_by("tier", "name"))
    systems = list(systems)
    by_id = {s.pk: s for s in systems}
    through = System.dependencies.through
    dependencies: dict[int, list[int]] = {s.pk: [] for s in systems}
    for source, target in through.objects.filter(from_system_id__in=by_id).values_list("from_system_id", "to_system_id"):
        if target in by_id:
            dependencies[source].append(target)
    for system in systems:
        system.depends_on = sorted((by_id[d] for d in dependencies[system.pk]), key=lambda s: (s.tier, s.name))
    components = strongly_connected(dependencies)
    cycles = [sorted((by_id[i] for i in c), key=lambda s: s.name) for c in components
              if len(c) > 1 or c[0] in dependencies[c[0]]]
    bia = Bia(systems, dependencies, cycles, recovery_waves(components, dependencies, by_id))
    bia.warnings = warnings_for(bia)
    counts = Counter(w.system for w in bia.warnings)
    for system in systems:
        system.warning_count = counts[system.slug]
    return bia


def strongly_connected(graph: dict[int, list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iteratively (a deep dependency chain must not hit the recursion limit)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def recovery_waves(components: list[list[int]], dependencies: dict[int, list[int]],
                   by_id: dict[int, System]) -> list[list[System]]:
    """The order recovery must follow: a system after everything it depends on. Systems in a cycle
    cannot be ordered among themselves, so they share a wave (and the cycle is a warning)."""
    component_of = {member: n for n, component in enumerate(components) for member in component}
    sorter: TopologicalSorter[int] = TopologicalSorter()
    for n, component in enumerate(components):
        needs = {component_of[d] for member in component for d in dependencies[member]} - {n}
        sorter.add(n, *needs)
    sorter.prepare()
    waves = []
    while sorter.is_active():
        ready = sorter.get_ready()
        members = [by_id[m] for n in ready for m in components[n]]
        waves.append(sorted(members, key=lambda s: (s.tier, s.name)))
        sorter.done(*ready)
    return waves


def warnings_for(bia: Bia) -> list[BiaWarning]:
    found: list[BiaWarning] = []
    for cycle in bia.cycles:
        names = " → ".join(s.name for s in cycle + cycle[:1]) if len(cycle) > 1 else f"{cycle[0].name} → {cycle[0].name}"
        for system in cycle:
            found.append(BiaWarning(WarningKind.CYCLE, system.slug,
                                    f"Dependency cycle: {names}. No recovery order exists between these systems; "
                                    "they must be recovered together or the cycle broken."))
    for system in bia.systems:
        for dependency in system.depends_on:
            found += _dependency_warnings(system, dependency)
        if system.tier <= 1 and not getattr(system, "drilled_live", True):
            found.append(BiaWarning(WarningKind.NEVER_DRILLED_LIVE, system.slug,
                                    f"{system.name} is tier {system.tier} and has never been drilled live: its "
                                    f"{format_duration(system.rto_target_seconds)} RTO target is unproven."))
        found += _band_warnings(system)
    return found


def _dependency_warnings(system: System, dependency: System) -> list[BiaWarning]:
    found = []
    for label, target, dependency_target, achieved in (
            ("RTO", system.rto_target_seconds, dependency.rto_target_seconds, getattr(dependency, "last_rto", None)),
            ("RPO", system.rpo_target_seconds, dependency.rpo_target_seconds, getattr(dependency, "last_rpo", None))):
        if target < dependency_target:
            found.append(BiaWarning(WarningKind.TIGHTER_THAN_DEPENDENCY, system.slug,
                                    f"{system.name}'s {label} target ({format_duration(target)}) is tighter than "
                                    f"that of {dependency.name}, which it depends on ({format_duration(dependency_target)})."))
        if achieved is not None and achieved > target:
            found.append(BiaWarning(WarningKind.DEPENDENCY_ACHIEVED, system.slug,
                                    f"{system.name}'s {label} target ({format_duration(target)}) cannot hold: "
                                    f"{dependency.name}, which it depends on, last achieved {format_duration(achieved)}."))
    return found


def _band_warnings(system: System) -> list[BiaWarning]:
    found = []
    band = TIER_BANDS.get(system.tier)
    if band is None:
        return found
    for label, value, (low, high) in (("RTO", system.rto_target_seconds, band[0]),
                                      ("RPO", system.rpo_target_seconds, band[1])):
        if value < low or (high is not None and value > high):
            found.append(BiaWarning(WarningKind.OUTSIDE_BAND, system.slug,
                                    f"{system.name}'s {label} target ({format_duration(value)}) is outside the tier "
                                    f"{system.tier} band ({band_text(low, high)})."))
    return found
