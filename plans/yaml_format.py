"""Plans as code: parse and validate the plan YAML (docs/plans.md).

A plan names the systems a scenario takes out and the runbook that recovers each. The order is
derived from the systems' dependencies in the inventory (what a system depends on recovers first),
unless an entry says explicitly what it waits for (``after``). Every problem is collected with file,
plan, entry and field, as for runbooks, and nothing is saved while any remains. A cycle in the
resulting order is refused with the cycle named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

import yaml

from runbooks import strict_yaml
from runbooks.durations import parse_duration
from runbooks.models import Runbook, System
from runbooks.yaml_format import SLUG, FormatProblem, ProblemsAt, as_list

PLAN_FIELDS = {"slug", "title", "description", "rto_target", "systems"}
ENTRY_FIELDS = {"system", "runbook", "after"}


class PlanFormatError(ValueError):
    """The import was refused whole; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[FormatProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ParsedPlans:
    plans: list[dict[str, Any]] = field(default_factory=list)


def parse_plan_documents(sources: list[tuple[str, str]]) -> ParsedPlans:
    """Parse ``(source name, YAML text)`` pairs into normalised plan specs, or raise PlanFormatError."""
    problems: list[FormatProblem] = []
    batch = ParsedPlans()
    for source, text in sources:
        try:
            document = strict_yaml.load(text)
        except strict_yaml.StrictYamlError as error:
            problems.append(FormatProblem(source, error.where, str(error)))
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problems.append(FormatProblem(source, where, f"not valid YAML: {getattr(error, 'problem', None) or error}"))
            continue
        if not isinstance(document, dict) or not ({"plans", "plan"} & set(document)):
            problems.append(FormatProblem(source, "", "expected a mapping with 'plans' (a list of recovery plans)"))
            continue
        unknown = set(document) - {"plans", "plan"}
        if unknown:
            problems.append(FormatProblem(source, "", f"unknown top-level key(s): {', '.join(sorted(unknown))}; "
                                                      "a plan file holds 'plans' (systems and runbooks are imported "
                                                      "on the Runbooks page)"))
        raw_plans = as_list(document.get("plans")) + as_list(document.get("plan"))
        for index, raw in enumerate(raw_plans):
            spec = _parse_plan(source, index, raw, problems)
            if spec:
                batch.plans.append({**spec, "_source": source})
    seen: dict[str, str] = {}
    for spec in batch.plans:
        if spec["slug"] in seen:
            problems.append(FormatProblem(spec["_source"], f"plan {spec['slug']!r}",
                                          f"slug: defined twice in this import (first in {seen[spec['slug']]})"))
        seen.setdefault(spec["slug"], spec["_source"])
    if problems:
        raise PlanFormatError(problems)
    return batch


def _parse_plan(source: str, index: int, raw: Any, problems: list[FormatProblem]) -> dict[str, Any] | None:
    where = f"plans[{index}]"
    if not isinstance(raw, dict):
        problems.append(FormatProblem(source, where, "each plan must be a mapping"))
        return None
    slug = raw.get("slug")
    if isinstance(slug, str):
        where = f"plan {slug!r}"
    at = ProblemsAt(source, where, problems)
    for key in sorted(set(raw) - PLAN_FIELDS):
        at.add(key, f"unknown field; a plan takes: {', '.join(sorted(PLAN_FIELDS))}")
    if not isinstance(slug, str) or not SLUG.match(slug):
        at.add("slug", "required: lower-case letters, digits, '-' or '_'")
    title = raw.get("title") or slug
    rto_target = None
    if raw.get("rto_target") is not None:
        try:
            rto_target = parse_duration(raw["rto_target"])
        except ValueError as error:
            at.add("rto_target", f"{error} (the business service's RTO target)")
    raw_entries = raw.get("systems")
    if not isinstance(raw_entries, list) or not raw_entries:
        at.add("systems", "required: a non-empty list of {system, runbook} entries")
        raw_entries = []
    entries = [entry for position, raw_entry in enumerate(raw_entries, start=1)
               if (entry := _parse_entry(source, where, position, raw_entry, problems)) is not None]
    if at.any:
        return None
    _check_against_inventory(entries, at)
    if at.any:
        return None
    _resolve_order(entries, at)
    if at.any:
        return None
    return {"slug": slug, "title": str(title), "description": str(raw.get("description", "")),
            "rto_target_seconds": rto_target, "systems": entries}


def _parse_entry(source: str, plan_where: str, position: int, raw: Any,
                 problems: list[FormatProblem]) -> dict[str, Any] | None:
    at = ProblemsAt(source, f"{plan_where}, systems[{position}]", problems)
    if not isinstance(raw, dict):
        at.add("entry", "must be a mapping with 'system' and 'runbook'")
        return None
    for key in sorted(set(raw) - ENTRY_FIELDS):
        at.add(key, f"unknown field; an entry takes: {', '.join(sorted(ENTRY_FIELDS))}")
    for key in ("system", "runbook"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            at.add(key, f"required: the slug of the {key}")
    after = raw.get("after")
    if after is not None and (not isinstance(after, list) or not all(isinstance(s, str) for s in after)):
        at.add("after", "must be a list of the plan's system slugs this one waits for ([] to start at once)")
    if at.any:
        return None
    return {"system": raw["system"], "runbook": raw["runbook"], "explicit_after": after}


def _check_against_inventory(entries: list[dict[str, Any]], at: ProblemsAt) -> None:
    """Systems and runbooks must exist, each runbook must recover its entry's system, and an
    explicit ``after`` may only name systems of the plan."""
    slugs = [e["system"] for e in entries]
    systems = {s.slug: s for s in System.objects.filter(slug__in=slugs)}
    runbooks = {r.slug: r for r in Runbook.objects.filter(slug__in=[e["runbook"] for e in entries])
                .select_related("system").prefetch_related("versions")}
    listed: set[str] = set()
    for entry in entries:
        slug = entry["system"]
        if slug in listed:
            at.add("systems", f"system {slug!r} is listed twice; a plan recovers each system once")
        listed.add(slug)
        if slug not in systems:
            at.add("systems", f"unknown system {slug!r}; import it on the Runbooks page first")
        runbook = runbooks.get(entry["runbook"])
        if runbook is None:
            at.add("systems", f"{slug}: unknown runbook {entry['runbook']!r}; import it first")
        elif runbook.system.slug != slug:
            at.add("systems", f"{slug}: runbook {runbook.slug!r} recovers {runbook.system.slug!r}, not {slug!r}")
        elif not runbook.versions.all():
            at.add("systems", f"{slug}: runbook {runbook.slug!r} has no version yet")
        for other in entry["explicit_after"] or []:
            if other not in slugs:
                at.add("systems", f"{slug}: after names {other!r}, which is not a system of this plan")
            elif other == slug:
                at.add("systems", f"{slug}: after names the system itself")


def _resolve_order(entries: list[dict[str, Any]], at: ProblemsAt) -> None:
    """Give each entry its ``after``: its explicit list, or the plan's systems it depends on in the
    inventory — directly, or through systems the plan leaves out (app → cache → db with cache not in
    the plan still makes app wait for db). Then order the entries so each comes after what it waits
    for, or refuse the plan with the cycle named."""
    in_plan = {e["system"] for e in entries}
    graph = _inventory_dependencies()
    for entry in entries:
        if entry["explicit_after"] is not None:
            entry["after"], entry["order"] = sorted(set(entry["explicit_after"])), "explicit"
        else:
            entry["after"], entry["order"] = sorted(_nearest_in_plan(entry["system"], graph, in_plan)), "dependencies"
        del entry["explicit_after"]
    try:
        waves = stages_of(entries)
    except CycleError as error:
        cycle = list(reversed(error.args[1]))  # graphlib lists it against the arrows: make it read "waits for"
        at.add("systems", f"the recovery order has a cycle: {' → '.join(cycle)} (each waits for the next). "
                          "Break it with an explicit 'after' on one of these systems, or fix their depends_on.")
        return
    entries[:] = [entry for wave in waves for entry in wave]


def _inventory_dependencies() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for system_slug, dependency_slug in System.dependencies.through.objects.values_list(
            "from_system__slug", "to_system__slug"):
        graph.setdefault(system_slug, set()).add(dependency_slug)
    return graph


def _nearest_in_plan(start: str, graph: dict[str, set[str]], in_plan: set[str]) -> set[str]:
    found: set[str] = set()
    seen = {start}
    pending = list(graph.get(start, ()))
    while pending:
        slug = pending.pop()
        if slug in seen:
            continue
        seen.add(slug)
        if slug in in_plan:
            found.add(slug)
        else:
            pending.extend(graph.get(slug, ()))
    return found


def plan_to_yaml(spec: dict[str, Any]) -> dict[str, Any]:
    """The inverse of parsing, for export: an order derived from dependencies is left to be derived
    again; an explicit one is written out."""
    document: dict[str, Any] = {"slug": spec["slug"], "title": spec["title"]}
    if spec.get("description"):
        document["description"] = spec["description"]
    if spec.get("rto_target_seconds") is not None:
        document["rto_target"] = spec["rto_target_seconds"]
    systems = []
    for entry in spec["systems"]:
        out: dict[str, Any] = {"system": entry["system"], "runbook": entry["runbook"]}
        if entry["order"] == "explicit":
            out["after"] = entry["after"]
        systems.append(out)
    document["systems"] = systems
    return document


def stages_of(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The entries in waves, each sorted by slug: a wave's systems wait only for earlier waves, so a
    wave may recover in parallel (a plan drill itself starts each system as soon as what it waits for
    is back, without waiting for the rest of its wave). Raises CycleError naming a cycle."""
    sorter = TopologicalSorter({e["system"]: e["after"] for e in entries})
    by_slug = {e["system"]: e for e in entries}
    sorter.prepare()
    waves = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        waves.append([by_slug[slug] for slug in ready])
        sorter.done(*ready)
    return waves
