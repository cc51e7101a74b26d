"""Checking an archive offline: a zip holding a ``SHA256SUMS`` manifest (and, optionally, the audit
entries of its period as ``audit.jsonl`` written by ``archive_rows``). Every file must be listed and
match its digest, no listed file may be missing, and each archived audit entry must match its MAC and
link to the entry before it. Nothing is read from the database."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .services import verify_archived_rows

MANIFEST = "SHA256SUMS"
AUDIT_ROWS = "audit.jsonl"


@dataclass
class ArchiveCheck:
    files: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)


def verify_archive(path: Path) -> ArchiveCheck:
    result = ArchiveCheck()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        result.problems.append(f"{path}: not a readable zip ({error})")
        return result
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        manifests = [n for n in names if n.rsplit("/", 1)[-1] == MANIFEST and n.count("/") <= 1]
        if not manifests:
            result.problems.append(f"{path}: no {MANIFEST} at its top")
            return result
        manifest = min(manifests, key=len)
        prefix = manifest[: -len(MANIFEST)]
        listed: dict[str, str] = {}
        for line in archive.read(manifest).decode().splitlines():
            digest, _, name = line.partition("  ")
            listed[prefix + name] = digest
        for name in names:
            if name == manifest:
                continue
            if name not in listed:
                result.problems.append(f"{name}: in the archive but not in {MANIFEST} (added afterwards)")
                continue
            result.files += 1
            if hashlib.sha256(archive.read(name)).hexdigest() != listed[name]:
                result.problems.append(f"{name}: its SHA-256 differs from {MANIFEST} (changed afterwards)")
        for name in sorted(set(listed) - set(names)):
            result.problems.append(f"{name}: listed in {MANIFEST} but missing from the archive")
        if prefix + AUDIT_ROWS in names:
            checked, problems = verify_archived_rows(archive.read(prefix + AUDIT_ROWS).decode().splitlines())
            result.entries = checked
            result.problems += [f"{AUDIT_ROWS} entry {p.entry_id}: {p.message}" for p in problems]
    return result
