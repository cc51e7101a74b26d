"""Editing a runbook in the browser: its latest version as YAML, checked with the import's own
parser (so the editor's errors are the import's), a diff preview, and saving through
``import_runbooks``, the one path that creates versions. The editor changes the runbook only:
systems and scenarios are imported on the Runbooks page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .diffs import DiffLine, diff_specs, spec_as_yaml
from .models import Runbook, RunbookVersion
from .services import import_runbooks
from .yaml_format import FormatProblem, RunbookFormatError, parse_documents, runbook_spec_for_storage, spec_hash


@dataclass
class EditPreview:
    spec: dict[str, Any]
    diff: list[DiffLine]

    @property
    def unchanged(self) -> bool:
        return not self.diff


def source_name(runbook: Runbook) -> str:
    return f"{runbook.slug} (browser editor)"


def editable_text(version: RunbookVersion) -> str:
    return spec_as_yaml(version.spec)


def preview_edit(*, runbook: Runbook, text: str) -> EditPreview:
    """Check the edited YAML as an import would, and what it changes against the latest version.
    Raises RunbookFormatError with every problem."""
    name = source_name(runbook)
    batch = parse_documents([(name, text)])
    problems = []
    if batch.systems or batch.scenarios:
        problems.append(FormatProblem(name, "", "the editor changes this runbook only; import systems and scenarios on "
                                                "the Runbooks page"))
    if [r["slug"] for r in batch.runbooks] != [runbook.slug]:
        problems.append(FormatProblem(name, "", f"the editor saves runbook {runbook.slug!r}: the document must hold "
                                                f"that one runbook, with slug: {runbook.slug}"))
    if problems:
        raise RunbookFormatError(problems)
    spec = runbook_spec_for_storage(batch.runbooks[0])
    latest = runbook.latest_version
    if latest is None or latest.content_hash == spec_hash(spec):
        return EditPreview(spec, [])
    return EditPreview(spec, diff_specs(latest.spec, spec, old_name=f"v{latest.number}", new_name="your edit"))


class EditConflict(Exception):
    """Someone saved a newer version while this edit was open."""


def save_edit(*, runbook: Runbook, text: str, user: Any, based_on: int) -> RunbookVersion | None:
    """Save the edit as the next version (None when it changes nothing). Refused when the version it
    was based on is no longer the latest, so nobody overwrites a colleague's change unseen."""
    preview = preview_edit(runbook=runbook, text=text)
    latest = runbook.latest_version
    if latest is not None and latest.number != based_on:
        raise EditConflict(f"v{latest.number} was saved by {latest.created_by or 'an import'} while you edited v{based_on}: "
                           "look at its changes, then edit again from it.")
    if preview.unchanged:
        return None
    report = import_runbooks(sources=[(source_name(runbook), text)], user=user)
    return report.created[0] if report.created else None
