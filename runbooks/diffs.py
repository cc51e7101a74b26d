"""What changed between two versions of a runbook, line by line. Both sides are the normalised
documents written back as YAML (what export writes), so a diff shows what a drill would do
differently, never a comment or a reformatted line."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml

from .models import RunbookVersion
from .yaml_format import runbook_to_yaml


@dataclass(frozen=True)
class DiffLine:
    kind: str   # "add", "remove", "context" or "hunk"
    text: str


def spec_as_yaml(spec: dict[str, Any]) -> str:
    return yaml.safe_dump({"runbooks": [runbook_to_yaml(spec)]}, sort_keys=False, allow_unicode=True)


def diff_specs(old: dict[str, Any], new: dict[str, Any], *, old_name: str, new_name: str) -> list[DiffLine]:
    lines = difflib.unified_diff(spec_as_yaml(old).splitlines(), spec_as_yaml(new).splitlines(),
                                 fromfile=old_name, tofile=new_name, lineterm="", n=3)
    result = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "remove"}.get(line[:1], "context")
        result.append(DiffLine(kind, line))
    return result


def version_diff(old: RunbookVersion, new: RunbookVersion) -> list[DiffLine]:
    """Lines that turn ``old`` into ``new``; empty when they plan the same drill."""
    return diff_specs(old.spec, new.spec, old_name=f"v{old.number}", new_name=f"v{new.number}")
