"""Runbooks as code: parse and validate the YAML format (docs/runbook-format.md).

Parsing never touches the database except to look up systems a runbook names but does not define.
Every problem is collected with the file, the object, the step and the field it concerns, so one
import reports all mistakes at once, and nothing is saved while any remains.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import strict_yaml
from .actions import ParamError, action_names, binding_problems, canary_kinds, get_action, is_known_action, parse_params
from .durations import parse_duration
from .models import TIER_DEFAULTS, DrillKind, Environment, ScenarioFlag, System

KNOWN_MARKS = ("outage_start", "service_restored", "failback_complete")
DEFAULT_STEP_TIMEOUT = 600.0
SYSTEM_FIELDS = {"slug", "name", "description", "owner", "environment", "tier", "rto_target", "rpo_target",
                 "depends_on", "targets"}
RUNBOOK_FIELDS = {"slug", "title", "system", "kind", "description", "canary", "steps"}
STEP_FIELDS = {"key", "name", "action", "params", "timeout", "retries", "marks", "group"}
SCENARIO_FIELDS = {"slug", "title", "system", "description", "flags", "injects"}
INJECT_FIELDS = {"key", "title", "message", "at"}
QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class FormatProblem:
    source: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.message}" if self.where else f"{self.source}: {self.message}"


@dataclass
class ProblemsAt:
    """Collects the problems of one object (a system, a runbook, a step) into the import's list,
    each named by file, object and field."""

    source: str
    where: str
    found: list[FormatProblem]

    def __post_init__(self) -> None:
        self.count_at_start = len(self.found)

    def add(self, field_name: str, message: str) -> None:
        self.found.append(FormatProblem(self.source, self.where, f"{field_name}: {message}"))

    @property
    def any(self) -> bool:
        return len(self.found) > self.count_at_start


class RunbookFormatError(ValueError):
    """The import was refused whole; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[FormatProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ParsedBatch:
    systems: list[dict[str, Any]] = field(default_factory=list)
    runbooks: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def slugify_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100] or "step"


def parse_documents(sources: list[tuple[str, str]]) -> ParsedBatch:
    """Parse ``(source name, YAML text)`` pairs into normalised systems and runbooks, or raise."""
    problems: list[FormatProblem] = []
    batch = ParsedBatch()
    for source, text in sources:
        try:
            document = strict_yaml.load(text)
        except strict_yaml.StrictYamlError as error:
            problems.append(FormatProblem(source, error.where, str(error)))
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or str(error)
            problems.append(FormatProblem(source, where, f"not valid YAML: {problem}"))
            continue
        if not isinstance(document, dict):
            problems.append(FormatProblem(source, "", "expected a mapping with 'systems', 'runbooks' and/or 'scenarios'"))
            continue
        unknown = set(document) - {"systems", "runbooks", "scenarios", "system", "runbook", "scenario"}
        if unknown:
            problems.append(FormatProblem(source, "", f"unknown top-level key(s): {', '.join(sorted(unknown))}; "
                                                      "use 'systems', 'runbooks' and 'scenarios'"))
        systems = as_list(document.get("systems")) + as_list(document.get("system"))
        runbooks = as_list(document.get("runbooks")) + as_list(document.get("runbook"))
        scenarios = as_list(document.get("scenarios")) + as_list(document.get("scenario"))
        if not systems and not runbooks and not scenarios:
            problems.append(FormatProblem(source, "", "defines no systems, no runbooks and no scenarios"))
        for i, raw in enumerate(systems):
            spec = _parse_system(source, i, raw, problems)
            if spec:
                batch.systems.append({**spec, "_source": source})
        for i, raw in enumerate(runbooks):
            spec = _parse_runbook_shape(source, i, raw, problems)
            if spec:
                batch.runbooks.append({**spec, "_source": source})
        for i, raw in enumerate(scenarios):
            spec = _parse_scenario(source, i, raw, problems)
            if spec:
                batch.scenarios.append({**spec, "_source": source})
    _check_unique_slugs(batch, problems)
    _check_cross_references(batch, problems)
    if problems:
        raise RunbookFormatError(problems)
    return batch


def as_list(value: Any) -> list[Any]:
    """A YAML field that takes one item or a list of them."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _parse_system(source: str, index: int, raw: Any, problems: list[FormatProblem]) -> dict[str, Any] | None:
    where = f"systems[{index}]"
    if not isinstance(raw, dict):
        problems.append(FormatProblem(source, where, "each system must be a mapping"))
        return None
    slug = raw.get("slug")
    if isinstance(slug, str):
        where = f"system {slug!r}"
    at = ProblemsAt(source, where, problems)

    for key in sorted(set(raw) - SYSTEM_FIELDS):
        at.add(key, f"unknown field; a system takes: {', '.join(sorted(SYSTEM_FIELDS))}")
    if not isinstance(slug, str) or not SLUG.match(slug):
        at.add("slug", "required: lower-case letters, digits, '-' or '_'")
    name = raw.get("name") or slug
    tier = raw.get("tier")
    if isinstance(tier, bool) or not isinstance(tier, int) or tier not in TIER_DEFAULTS:
        at.add("tier", f"required: a whole number from 0 to 4, got {tier!r}")
        tier = None
    environment = raw.get("environment", Environment.PRODUCTION)
    if environment not in Environment.values:
        at.add("environment", f"must be one of {', '.join(Environment.values)}, got {environment!r}")
    targets_seconds: dict[str, int] = {}
    for field_name, index_in_defaults in (("rto_target", 0), ("rpo_target", 1)):
        if field_name in raw:
            try:
                targets_seconds[field_name] = int(round(parse_duration(raw[field_name])))
            except ValueError as error:
                at.add(field_name, str(error))
        elif tier is not None:
            targets_seconds[field_name] = TIER_DEFAULTS[tier][index_in_defaults]
    depends_on = raw.get("depends_on", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        at.add("depends_on", "must be a list of system slugs")
        depends_on = []
    targets = raw.get("targets", {})
    if not isinstance(targets, dict):
        at.add("targets", "must map target names to {kind: ..., ...}")
        targets = {}
    for target_name, binding in targets.items():
        if not isinstance(binding, dict) or not isinstance(binding.get("kind"), str):
            at.add(f"targets.{target_name}", "must be a mapping with a 'kind' (sqlite, http, postgres, ...)")
            continue
        for secret_key in ("password", "secret", "token"):
            if secret_key in binding:
                at.add(f"targets.{target_name}.{secret_key}",
                    "secrets are never stored; name an environment variable instead (e.g. password_env: ORDERS_DB_PASSWORD)")
        # Any binding may name the worker queue its steps must run on (a worker beside the target);
        # the rest is its family's to check.
        queue = binding.get("queue")
        if queue is not None and (not isinstance(queue, str) or not QUEUE.match(queue)):
            at.add(f"targets.{target_name}.queue", f"must be a worker queue name (letters, digits, . _ - @), got {queue!r}")
        for field_name, message in binding_problems({k: v for k, v in binding.items() if k != "queue"}):
            at.add(f"targets.{target_name}.{field_name}", message)
    if at.any:
        return None
    return {
        "slug": slug,
        "name": str(name),
        "description": str(raw.get("description", "")),
        "owner": str(raw.get("owner", "")),
        "environment": environment,
        "tier": tier,
        "rto_target_seconds": targets_seconds.get("rto_target"),
        "rpo_target_seconds": targets_seconds.get("rpo_target"),
        "depends_on": depends_on,
        "targets": targets,
    }


def _parse_runbook_shape(source: str, index: int, raw: Any, problems: list[FormatProblem]) -> dict[str, Any] | None:
    """Check everything that does not need the system's targets; steps' params are checked later."""
    where = f"runbooks[{index}]"
    if not isinstance(raw, dict):
        problems.append(FormatProblem(source, where, "each runbook must be a mapping"))
        return None
    slug = raw.get("slug")
    if isinstance(slug, str):
        where = f"runbook {slug!r}"
    at = ProblemsAt(source, where, problems)

    for key in sorted(set(raw) - RUNBOOK_FIELDS):
        at.add(key, f"unknown field; a runbook takes: {', '.join(sorted(RUNBOOK_FIELDS))}")
    if not isinstance(slug, str) or not SLUG.match(slug):
        at.add("slug", "required: lower-case letters, digits, '-' or '_'")
    if not isinstance(raw.get("system"), str):
        at.add("system", "required: the slug of the system this runbook recovers")
    kind = raw.get("kind")
    if kind not in DrillKind.values:
        at.add("kind", f"required: one of {', '.join(DrillKind.values)}, got {kind!r}")
    canary = raw.get("canary")
    if canary is not None:
        if not isinstance(canary, dict) or not isinstance(canary.get("target"), str):
            at.add("canary", "must be a mapping with a 'target' (and optionally 'interval')")
            canary = None
        else:
            unknown = set(canary) - {"target", "interval"}
            if unknown:
                at.add("canary", f"unknown field(s) {', '.join(sorted(unknown))}; takes target and interval")
            try:
                canary = {"target": canary["target"], "interval": parse_duration(canary.get("interval", 1))}
            except ValueError as error:
                at.add("canary.interval", str(error))
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        at.add("steps", "required: a non-empty list of steps")
        raw_steps = []
    steps = []
    keys: set[str] = set()
    marks_seen: set[str] = set()
    for i, raw_step in enumerate(raw_steps, start=1):
        step = _parse_step(source, where, i, raw_step, problems, keys, marks_seen)
        if step:
            steps.append(step)
    _check_gates_stand_alone(steps, at)
    if at.any:
        return None
    return {
        "slug": slug,
        "title": str(raw.get("title") or slug),
        "system": raw["system"],
        "kind": kind,
        "description": str(raw.get("description", "")),
        "canary": canary,
        "steps": steps,
    }


def _check_gates_stand_alone(steps: list[dict[str, Any]], at: ProblemsAt) -> None:
    """An approval gate stops what comes after it; a step beside it in a parallel group would run
    before anyone approved."""
    members: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        if step["group"]:
            members.setdefault(step["group"], []).append(step)
    for group, group_steps in members.items():
        gates = [s for s in group_steps if get_action(s["action"]).is_approval_gate]
        if gates and len(group_steps) > 1:
            at.add("group", f"the approval gate {gates[0]['name']!r} shares the parallel group {group!r} with "
                            f"{len(group_steps) - 1} other step(s), which would run before it is approved; "
                            "give the gate a group of its own")


def _parse_step(source: str, runbook_where: str, position: int, raw: Any, problems: list[FormatProblem],
                keys: set[str], marks_seen: set[str]) -> dict[str, Any] | None:
    where = f"{runbook_where}, step {position}"
    if not isinstance(raw, dict):
        problems.append(FormatProblem(source, where, "each step must be a mapping"))
        return None
    if isinstance(raw.get("name"), str):
        where = f"{where} {raw['name']!r}"
    at = ProblemsAt(source, where, problems)

    for key in sorted(set(raw) - STEP_FIELDS):
        at.add(key, f"unknown field; a step takes: {', '.join(sorted(STEP_FIELDS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        at.add("name", "required: what the step does, in words")
        name = f"step {position}"
    action = raw.get("action")
    if not is_known_action(action):
        at.add("action", f"unknown action {action!r}; known actions: {', '.join(action_names())}")
    key = raw.get("key") or slugify_key(name)
    if not isinstance(key, str) or not SLUG.match(key):
        at.add("key", "must be lower-case letters, digits, '-' or '_'")
    elif key in keys:
        at.add("key", f"{key!r} is used by an earlier step; give this step its own key")
    keys.add(str(key))
    timeout = DEFAULT_STEP_TIMEOUT
    if "timeout" in raw:
        try:
            timeout = parse_duration(raw["timeout"])
        except ValueError as error:
            at.add("timeout", str(error))
    retries = raw.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        at.add("retries", f"must be a whole number from 0 to 10, got {retries!r}")
    marks = as_list(raw.get("marks"))
    for mark in marks:
        if mark not in KNOWN_MARKS:
            at.add("marks", f"unknown mark {mark!r}; known marks: {', '.join(KNOWN_MARKS)}")
        elif mark in marks_seen:
            at.add("marks", f"{mark!r} is already set by an earlier step; a runbook sets each mark once")
        marks_seen.add(str(mark))
    group = raw.get("group", "")
    if not isinstance(group, str):
        at.add("group", "must be a name shared by the steps that run in parallel")
    params = raw.get("params", {})
    if is_known_action(action):
        try:
            parse_params(get_action(action).Params, params)
        except ParamError as error:
            at.add(f"params.{error.field}" if error.field else "params", error.message)
    if at.any:
        return None
    return {"key": key, "name": name.strip(), "action": action, "params": params or {}, "timeout": timeout,
            "retries": retries, "marks": marks, "group": group}


def _parse_scenario(source: str, index: int, raw: Any, problems: list[FormatProblem]) -> dict[str, Any] | None:
    """A scenario and its injects: messages released at T+``at`` or, without ``at``, by the facilitator."""
    where = f"scenarios[{index}]"
    if not isinstance(raw, dict):
        problems.append(FormatProblem(source, where, "each scenario must be a mapping"))
        return None
    slug = raw.get("slug")
    if isinstance(slug, str):
        where = f"scenario {slug!r}"
    at = ProblemsAt(source, where, problems)
    for key in sorted(set(raw) - SCENARIO_FIELDS):
        at.add(key, f"unknown field; a scenario takes: {', '.join(sorted(SCENARIO_FIELDS))}")
    if not isinstance(slug, str) or not SLUG.match(slug):
        at.add("slug", "required: lower-case letters, digits, '-' or '_'")
    system = raw.get("system")
    if system is not None and not isinstance(system, str):
        at.add("system", "the slug of the system whose tabletops offer this scenario (leave it out for every system)")
    flags = _parse_scenario_flags(raw.get("flags", []), at)
    raw_injects = raw.get("injects", [])
    if not isinstance(raw_injects, list):
        at.add("injects", "must be a list of injects (title, message and optionally at)")
        raw_injects = []
    injects = []
    keys: set[str] = set()
    for position, raw_inject in enumerate(raw_injects, start=1):
        inject_at = ProblemsAt(source, f"{where}, inject {position}", problems)
        if not isinstance(raw_inject, dict):
            inject_at.add("inject", "must be a mapping with a title and a message")
            continue
        for key in sorted(set(raw_inject) - INJECT_FIELDS):
            inject_at.add(key, f"unknown field; an inject takes: {', '.join(sorted(INJECT_FIELDS))}")
        title, message = raw_inject.get("title"), raw_inject.get("message")
        if not isinstance(title, str) or not title.strip():
            inject_at.add("title", "required: what the participants are told happened, in a few words")
            title = f"inject {position}"
        if not isinstance(message, str) or not message.strip():
            inject_at.add("message", "required: the full message the participants receive")
        key = raw_inject.get("key") or slugify_key(title)
        if not isinstance(key, str) or not SLUG.match(key):
            inject_at.add("key", "must be lower-case letters, digits, '-' or '_'")
        elif key in keys:
            inject_at.add("key", f"{key!r} is used by an earlier inject; give this one its own key")
        keys.add(str(key))
        at_seconds = None
        if raw_inject.get("at") is not None:
            try:
                at_seconds = parse_duration(raw_inject["at"])
            except ValueError as error:
                inject_at.add("at", f"{error} (the time after the start the inject is released)")
        if not inject_at.any:
            injects.append({"key": key, "title": title.strip(), "message": message.strip(), "at_seconds": at_seconds})
    if at.any:
        return None
    spec = {"slug": slug, "title": str(raw.get("title") or slug), "system": system,
            "description": str(raw.get("description", "")), "injects": injects}
    if flags:
        # Only when set, so that a scenario without flags keeps its digest and makes no new version.
        spec["flags"] = flags
    return spec


def _parse_scenario_flags(raw: Any, at: ProblemsAt) -> list[str]:
    """A list of ScenarioFlag values, each once; normalised to ScenarioFlag's order."""
    known = ", ".join(flag.value for flag in ScenarioFlag)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        at.add("flags", f"must be a list of flags, from: {known}")
        return []
    given = set()
    for flag in raw:
        if not isinstance(flag, str) or flag not in ScenarioFlag.values:
            at.add("flags", f"unknown flag {flag!r}; a scenario's flags are: {known}")
        elif flag in given:
            at.add("flags", f"{flag!r} is given twice; give each flag once")
        else:
            given.add(flag)
    return [flag.value for flag in ScenarioFlag if flag.value in given]


def _check_unique_slugs(batch: ParsedBatch, problems: list[FormatProblem]) -> None:
    """The same slug twice in one import would silently keep the last definition."""
    for kind, items in (("system", batch.systems), ("runbook", batch.runbooks), ("scenario", batch.scenarios)):
        first_seen: dict[str, str] = {}
        for item in items:
            slug = item["slug"]
            if slug in first_seen:
                problems.append(FormatProblem(item["_source"], f"{kind} {slug!r}",
                                              f"slug: defined twice in this import (first in {first_seen[slug]}); "
                                              f"each {kind} is defined once"))
            else:
                first_seen[slug] = item["_source"]


def _check_cross_references(batch: ParsedBatch, problems: list[FormatProblem]) -> None:
    """Systems named by runbooks, scenarios and dependencies must exist; step targets must be bound."""
    in_batch = {s["slug"]: s for s in batch.systems}
    slugs = set(in_batch)
    needed = ({r["system"] for r in batch.runbooks} | {d for s in batch.systems for d in s["depends_on"]}
              | {s["system"] for s in batch.scenarios if s["system"]})
    stored = {s.slug: s for s in System.objects.filter(slug__in=needed - slugs)}
    for scenario in batch.scenarios:
        if scenario["system"] and scenario["system"] not in slugs and scenario["system"] not in stored:
            problems.append(FormatProblem(scenario["_source"], f"scenario {scenario['slug']!r}",
                                          f"system: unknown system {scenario['system']!r}; define it under 'systems' "
                                          "or import it first"))
    for system in batch.systems:
        for dependency in system["depends_on"]:
            if dependency not in slugs and dependency not in stored:
                problems.append(FormatProblem(system["_source"], f"system {system['slug']!r}",
                                              f"depends_on: unknown system {dependency!r}"))
            if dependency == system["slug"]:
                problems.append(FormatProblem(system["_source"], f"system {system['slug']!r}",
                                              "depends_on: a system cannot depend on itself"))
    for runbook in batch.runbooks:
        where = f"runbook {runbook['slug']!r}"
        system_slug = runbook["system"]
        if system_slug in in_batch:
            targets = in_batch[system_slug]["targets"]
        elif system_slug in stored:
            targets = stored[system_slug].targets
        else:
            problems.append(FormatProblem(runbook["_source"], where,
                                          f"system: unknown system {system_slug!r}; define it under 'systems' or import it first"))
            continue
        canary = runbook.get("canary")
        if canary:
            binding = targets.get(canary["target"])
            if binding is None:
                problems.append(FormatProblem(runbook["_source"], where,
                                              f"canary.target: the system binds no target {canary['target']!r}; it binds: {', '.join(sorted(targets)) or 'none'}"))
            elif binding.get("kind") not in canary_kinds():
                problems.append(FormatProblem(runbook["_source"], where,
                                              f"canary.target: no canary writer for a {binding.get('kind')!r} target"))
        for position, step in enumerate(runbook["steps"], start=1):
            action = get_action(step["action"])
            target_name = step["params"].get("target")
            if target_name is None:
                continue
            step_where = f"{where}, step {position} {step['name']!r}"
            binding = targets.get(target_name)
            if binding is None:
                problems.append(FormatProblem(runbook["_source"], step_where,
                                              f"params.target: the system binds no target {target_name!r}; it binds: {', '.join(sorted(targets)) or 'none'}"))
            elif action.target_kind and binding.get("kind") not in _kinds(action.target_kind):
                problems.append(FormatProblem(runbook["_source"], step_where,
                                              f"params.target: {step['action']} needs a {' or '.join(_kinds(action.target_kind))} "
                                              f"target, {target_name!r} is {binding.get('kind')!r}"))


def _kinds(target_kind: str | tuple[str, ...]) -> tuple[str, ...]:
    """An action takes targets of one kind, or of any of several (an RDS instance or an Aurora cluster)."""
    return (target_kind,) if isinstance(target_kind, str) else tuple(target_kind)


def runbook_spec_for_storage(parsed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parsed.items() if not k.startswith("_")}


def runbook_to_yaml(spec: dict[str, Any]) -> dict[str, Any]:
    """The inverse of parsing, for export: a document that imports back to the same spec."""
    steps = []
    for step in spec["steps"]:
        out: dict[str, Any] = {"key": step["key"], "name": step["name"], "action": step["action"]}
        if step["params"]:
            out["params"] = step["params"]
        out["timeout"] = step["timeout"]
        if step["retries"]:
            out["retries"] = step["retries"]
        if step["marks"]:
            out["marks"] = step["marks"]
        if step["group"]:
            out["group"] = step["group"]
        steps.append(out)
    document: dict[str, Any] = {"slug": spec["slug"], "title": spec["title"], "system": spec["system"],
                                "kind": spec["kind"]}
    if spec.get("description"):
        document["description"] = spec["description"]
    if spec.get("canary"):
        document["canary"] = spec["canary"]
    document["steps"] = steps
    return document


def scenario_to_yaml(spec: dict[str, Any]) -> dict[str, Any]:
    """The inverse of parsing a scenario, for export."""
    document: dict[str, Any] = {"slug": spec["slug"], "title": spec["title"]}
    if spec.get("system"):
        document["system"] = spec["system"]
    if spec.get("description"):
        document["description"] = spec["description"]
    if spec.get("flags"):
        document["flags"] = list(spec["flags"])
    injects = []
    for inject in spec["injects"]:
        out: dict[str, Any] = {"key": inject["key"], "title": inject["title"], "message": inject["message"]}
        if inject["at_seconds"] is not None:
            out["at"] = inject["at_seconds"]
        injects.append(out)
    document["injects"] = injects
    return document
