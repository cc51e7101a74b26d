"""Use cases of planning: import and export systems and runbooks. Called by the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone

from accounts.roles import Capability, check, user_can
from audit.services import record

from .models import Environment, EnvironmentChange, Runbook, RunbookVersion, Scenario, ScenarioVersion, Step, System
from .yaml_format import (
    FormatProblem,
    RunbookFormatError,
    parse_documents,
    runbook_spec_for_storage,
    runbook_to_yaml,
    scenario_to_yaml,
    spec_hash,
)


@dataclass
class ImportReport:
    systems_created: list[str] = field(default_factory=list)
    systems_updated: list[str] = field(default_factory=list)
    systems_unchanged: list[str] = field(default_factory=list)
    versions_created: list[str] = field(default_factory=list)
    runbooks_unchanged: list[str] = field(default_factory=list)
    scenario_versions_created: list[str] = field(default_factory=list)
    scenarios_unchanged: list[str] = field(default_factory=list)
    # Moves out of production, held until a second administrator decides (EnvironmentChange).
    environment_changes_pending: list[str] = field(default_factory=list)
    # The versions this import created, for a caller that shows the one it made (the editor).
    created: list[RunbookVersion] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        for label, items in (("systems created", self.systems_created), ("systems updated", self.systems_updated),
                             ("systems unchanged", self.systems_unchanged), ("new runbook versions", self.versions_created),
                             ("runbooks unchanged", self.runbooks_unchanged),
                             ("new scenario versions", self.scenario_versions_created),
                             ("scenarios unchanged", self.scenarios_unchanged),
                             ("awaiting a second administrator", self.environment_changes_pending)):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        return "; ".join(parts) or "nothing to import"


def read_sources(path: Path) -> list[tuple[str, str]]:
    """A YAML file, or every *.yaml / *.yml file below a folder, as (name, text) pairs."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
        if not files:
            raise RunbookFormatError([FormatProblem(str(path), "", "the folder holds no .yaml or .yml files")])
    elif path.is_file():
        files = [path]
    else:
        raise RunbookFormatError([FormatProblem(str(path), "", "no such file or folder")])
    sources = []
    for file in files:
        try:
            sources.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            raise RunbookFormatError([FormatProblem(str(file), "", f"cannot be read: {error}")]) from None
    return sources


def import_runbooks(*, sources: list[tuple[str, str]], user: AbstractBaseUser | None = None,
                    only_missing: bool = False) -> ImportReport:
    """Import systems and runbooks all or nothing. A changed runbook gets a new version; an
    unchanged one gets nothing. Raises RunbookFormatError listing every problem.

    ``only_missing`` creates the systems, runbooks and scenarios that do not exist yet and leaves
    every existing one exactly as it is: the demo seed runs on each start, and must never replace
    what a person changed since (a runbook version imported in the UI, an edited binding)."""
    if user is not None:
        check(user, Capability.COORDINATE, "import runbooks")
    batch = parse_documents(sources)
    if user is not None and not user_can(user, Capability.ADMINISTER):
        _refuse_inventory_changes(batch, user)
    report = ImportReport()
    with transaction.atomic():
        existing = set(System.objects.filter(slug__in=[spec["slug"] for spec in batch.systems])
                       .values_list("slug", flat=True)) if only_missing else set()
        systems: dict[str, System] = {}
        for spec in batch.systems:
            if spec["slug"] in existing:
                report.systems_unchanged.append(spec["slug"])
                continue
            systems[spec["slug"]] = _upsert_system(spec, report, user)
        for spec in batch.systems:
            if spec["slug"] in systems:
                dependencies = list(System.objects.filter(slug__in=spec["depends_on"]))
                systems[spec["slug"]].dependencies.set(dependencies)
        for parsed in batch.runbooks:
            if only_missing and Runbook.objects.filter(slug=parsed["slug"]).exists():
                report.runbooks_unchanged.append(parsed["slug"])
                continue
            _import_runbook(parsed, user, report)
        for parsed in batch.scenarios:
            if only_missing and Scenario.objects.filter(slug=parsed["slug"]).exists():
                report.scenarios_unchanged.append(parsed["slug"])
                continue
            _import_scenario(parsed, user, report)
    return report


SYSTEM_FIELDS = ("name", "description", "owner", "environment", "tier", "rto_target_seconds", "rpo_target_seconds",
                 "targets")


def system_changes(spec: dict[str, Any], system: System | None) -> list[str]:
    """The fields of a stored system an imported definition would change (all, for a new one)."""
    if system is None:
        return ["a new system"]
    changed = [k for k in SYSTEM_FIELDS if getattr(system, k) != spec[k]]
    if sorted(spec["depends_on"]) != sorted(d.slug for d in system.dependencies.all()):
        changed.append("depends_on")
    return changed


def _refuse_inventory_changes(batch: Any, user: AbstractBaseUser) -> None:
    """The inventory (systems, their environment and their target bindings: what a step may touch)
    is an administrator's; a coordinator's import may carry system definitions only unchanged, as
    an export does."""
    stored = {s.slug: s for s in System.objects.filter(slug__in=[spec["slug"] for spec in batch.systems])
              .prefetch_related("dependencies")}
    problems = []
    for spec in batch.systems:
        changes = system_changes(spec, stored.get(spec["slug"]))
        if changes:
            problems.append(FormatProblem(spec["_source"], f"system {spec['slug']!r}",
                                          f"{user.get_username()} may not change systems ({', '.join(changes)}): systems, "
                                          "their environment and their target bindings are changed by an administrator. "
                                          "Import the runbooks alone, or ask an administrator to import this file."))
    if problems:
        raise RunbookFormatError(problems)


def _upsert_system(spec: dict[str, Any], report: ImportReport, user: AbstractBaseUser | None) -> System:
    fields = {k: spec[k] for k in SYSTEM_FIELDS}
    system = System.objects.filter(slug=spec["slug"]).first()
    if system is None:
        system = System.objects.create(slug=spec["slug"], **fields)
        report.systems_created.append(system.slug)
        record("system.created", actor=user, obj=system, after=fields, summary=f"created system {system.slug}")
        return system
    changed = {k: v for k, v in fields.items() if getattr(system, k) != v}
    if system.is_production and changed.get("environment", Environment.PRODUCTION) != Environment.PRODUCTION:
        _request_move_out_of_production(system, changed.pop("environment"), report, user)
    if changed:
        before = {k: getattr(system, k) for k in changed}
        for k, v in changed.items():
            setattr(system, k, v)
        system.save()
        report.systems_updated.append(system.slug)
        record("system.updated", actor=user, obj=system, before=before, after=changed,
               summary=f"updated system {system.slug}: {', '.join(sorted(changed))}")
    else:
        report.systems_unchanged.append(system.slug)
    return system


def _request_move_out_of_production(system: System, to: str, report: ImportReport, user: AbstractBaseUser | None) -> None:
    pending = system.environment_changes.filter(decision=EnvironmentChange.Decision.PENDING, to_environment=to).first()
    if pending is None:
        pending = EnvironmentChange.objects.create(system=system, from_environment=system.environment, to_environment=to,
                                                   requested_by=user if user is not None and user.is_authenticated else None)
        record("system.environment_change_requested", actor=user, obj=system,
               before={"environment": system.environment}, after={"environment": to},
               summary=f"asked to move {system.slug} out of production ({to}); a second administrator decides")
    report.environment_changes_pending.append(f"{system.slug} → {to}")


def decide_environment_change(*, change: EnvironmentChange, user: AbstractBaseUser, approve: bool, comment: str) -> None:
    """The second administrator's decision on moving a system out of production."""
    check(user, Capability.ADMINISTER, "decide environment changes")
    if not comment.strip():
        raise PermissionDenied("Write a comment: the decision is recorded with its reason.")
    if change.requested_by_id == user.pk:
        raise PermissionDenied("You asked for this change: another administrator must decide it (four eyes).")
    with transaction.atomic():
        decided = EnvironmentChange.objects.filter(pk=change.pk, decision=EnvironmentChange.Decision.PENDING).update(
            decision=EnvironmentChange.Decision.APPROVED if approve else EnvironmentChange.Decision.REJECTED,
            decided_by=user, decided_at=timezone.now(), comment=comment)
        if not decided:
            raise PermissionDenied("This change has already been decided.")
        system = System.objects.select_for_update().get(pk=change.system_id)
        if approve:
            before = system.environment
            system.environment = change.to_environment
            system.save(update_fields=["environment", "updated_at"])
            record("system.environment_changed", actor=user, obj=system, before={"environment": before},
                   after={"environment": change.to_environment},
                   summary=f"moved {system.slug} from {before} to {change.to_environment}, asked by "
                           f"{change.requested_by or 'an import'}: {comment}")
        else:
            record("system.environment_change_rejected", actor=user, obj=system,
                   after={"environment": system.environment},
                   summary=f"kept {system.slug} in {system.environment} (asked: {change.to_environment}): {comment}")


def _import_runbook(parsed: dict[str, Any], user: AbstractBaseUser | None, report: ImportReport) -> None:
    spec = runbook_spec_for_storage(parsed)
    system = System.objects.get(slug=spec["system"])
    runbook, _ = Runbook.objects.get_or_create(
        slug=spec["slug"], defaults={"title": spec["title"], "system": system, "kind": spec["kind"]}
    )
    digest = spec_hash(spec)
    latest = runbook.latest_version
    if latest is not None and latest.content_hash == digest:
        report.runbooks_unchanged.append(runbook.slug)
        return
    if (runbook.title, runbook.system_id, runbook.kind) != (spec["title"], system.pk, spec["kind"]):
        runbook.title, runbook.system, runbook.kind = spec["title"], system, spec["kind"]
        runbook.save()
    version = RunbookVersion.objects.create(
        runbook=runbook,
        number=(latest.number + 1) if latest else 1,
        description=spec["description"],
        spec=spec,
        content_hash=digest,
        source_name=parsed.get("_source", ""),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    Step.objects.bulk_create(
        Step(version=version, position=position, key=step["key"], name=step["name"], action=step["action"],
             params=step["params"], timeout_seconds=step["timeout"], retries=step["retries"], marks=step["marks"],
             group=step["group"])
        for position, step in enumerate(spec["steps"], start=1)
    )
    report.versions_created.append(f"{runbook.slug} v{version.number}")
    report.created.append(version)
    record("runbook.version_created", actor=user, obj=version,
           before={"version": latest.number, "content_hash": latest.content_hash} if latest else None,
           after={"version": version.number, "content_hash": digest, "source": version.source_name},
           summary=f"imported {runbook.slug} v{version.number}")


def _import_scenario(parsed: dict[str, Any], user: AbstractBaseUser | None, report: ImportReport) -> None:
    """Like a runbook: a changed scenario gets a new immutable version, an unchanged one nothing."""
    spec = runbook_spec_for_storage(parsed)
    system = System.objects.get(slug=spec["system"]) if spec["system"] else None
    scenario, _ = Scenario.objects.get_or_create(slug=spec["slug"], defaults={"title": spec["title"], "system": system})
    digest = spec_hash(spec)
    latest = scenario.latest_version
    if latest is not None and latest.content_hash == digest:
        report.scenarios_unchanged.append(scenario.slug)
        return
    if (scenario.title, scenario.system_id) != (spec["title"], system.pk if system else None):
        scenario.title, scenario.system = spec["title"], system
        scenario.save()
    version = ScenarioVersion.objects.create(
        scenario=scenario, number=(latest.number + 1) if latest else 1, description=spec["description"], spec=spec,
        content_hash=digest, source_name=parsed.get("_source", ""),
        created_by=user if user is not None and user.is_authenticated else None)
    report.scenario_versions_created.append(f"{scenario.slug} v{version.number}")
    record("scenario.version_created", actor=user, obj=version,
           before={"version": latest.number, "content_hash": latest.content_hash} if latest else None,
           after={"version": version.number, "content_hash": digest, "source": version.source_name},
           summary=f"imported scenario {scenario.slug} v{version.number}")


def system_to_yaml(system: System) -> dict[str, Any]:
    document: dict[str, Any] = {
        "slug": system.slug, "name": system.name, "tier": system.tier, "environment": system.environment,
        "rto_target": system.rto_target_seconds, "rpo_target": system.rpo_target_seconds,
    }
    if system.owner:
        document["owner"] = system.owner
    if system.description:
        document["description"] = system.description
    dependencies = sorted(d.slug for d in system.dependencies.all())
    if dependencies:
        document["depends_on"] = dependencies
    if system.targets:
        document["targets"] = system.targets
    return document


def export_runbooks(*, runbook_slugs: list[str] | None = None) -> str:
    """One YAML document with the latest version of each runbook, the systems they recover and the
    scenarios played against them (every scenario, when every runbook is exported)."""
    runbooks = Runbook.objects.select_related("system").order_by("slug")
    if runbook_slugs:
        runbooks = runbooks.filter(slug__in=runbook_slugs)
    documents = []
    systems: dict[str, System] = {}
    for runbook in runbooks:
        version = runbook.latest_version
        if version is None:
            continue
        documents.append(runbook_to_yaml(version.spec))
        systems[runbook.system.slug] = runbook.system
    scenarios = [s for s in Scenario.objects.select_related("system").order_by("slug")
                 if not runbook_slugs or (s.system is not None and s.system.slug in systems)]
    for scenario in scenarios:
        if scenario.system is not None:
            systems[scenario.system.slug] = scenario.system
    # The systems they depend on too, so the export imports into an empty database.
    pending = list(systems.values())
    while pending:
        for dependency in pending.pop().dependencies.all():
            if dependency.slug not in systems:
                systems[dependency.slug] = dependency
                pending.append(dependency)
    payload: dict[str, Any] = {"systems": [system_to_yaml(s) for _, s in sorted(systems.items())], "runbooks": documents}
    scenario_documents = [scenario_to_yaml(v.spec) for v in (s.latest_version for s in scenarios) if v is not None]
    if scenario_documents:
        payload["scenarios"] = scenario_documents
    return yaml.safe_dump(payload, sort_keys=False, allow_unicode=True)


def scenarios_for(system: System) -> list[Scenario]:
    """The scenarios a tabletop of this system may be played against (its own and the general
    ones), each with ``latest`` set to its newest version."""
    scenarios = list(Scenario.objects.filter(models.Q(system=system) | models.Q(system__isnull=True))
                     .prefetch_related("versions").order_by("title"))
    for scenario in scenarios:
        scenario.latest = max(scenario.versions.all(), key=lambda v: v.number, default=None)
    return [s for s in scenarios if s.latest is not None]
