"""The archive of a period holds every drill that ended in it (its evidence, its signed report
revisions) and the period's audit entries under one SHA-256 manifest; `audit verify --archive`
checks it without the database and finds a changed file, and an edited audit entry even when the
manifest was recomputed to match."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.archives import verify_archive
from reviews.period_archive import period_archive
from reviews.signoff import sign_off_report
from runbooks.models import DrillKind
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_system
from tests.support.roles import user_with_role

pytestmark = pytest.mark.django_db


def rewritten(source: Path, target: Path, change) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        files = {name: old.read(name) for name in old.namelist()}
        change(files)
        for name, data in files.items():
            new.writestr(name, data)


def test_a_period_archive_verifies_offline_and_shows_any_change(tmp_path: Path):
    today = timezone.localdate()
    drill = drill_with_evidence(make_system("orders"), DrillKind.BACKUP_RESTORE, timezone.now() - timedelta(hours=2),
                                rto=120, rpo=5)
    revision = sign_off_report(drill=drill, user=user_with_role("rita", "reviewer"), comment="Checked")
    path = tmp_path / "archive.zip"
    out = io.StringIO()
    call_command("review", "archive", "--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1)),
                 "-o", str(path), stdout=out)
    assert period_archive(starts=today - timedelta(days=1), ends=today + timedelta(days=1)) == path.read_bytes()

    folder = f"drdrill-archive-{today - timedelta(days=1)}-{today + timedelta(days=1)}/"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert folder + f"drill-{drill.pk}/report.pdf" in names
        assert archive.read(folder + f"drill-{drill.pk}/revisions/r1.html").decode() == revision.content
        actions = [json.loads(line)["action"] for line in archive.read(folder + "audit.jsonl").decode().splitlines()]
        assert "report.signed_off" in actions
    out = io.StringIO()
    call_command("audit", "verify", "--archive", str(path), stdout=out)
    assert f"archive intact: {len(names) - 1} files match SHA256SUMS, {len(actions)} audit entries match their MACs" \
        in out.getvalue()

    def change_a_figure(files: dict[str, bytes]) -> None:
        files[folder + f"drill-{drill.pk}/measurements.json"] = files[folder + f"drill-{drill.pk}/measurements.json"].replace(
            b"120.0", b"60.0")

    changed = tmp_path / "changed.zip"
    rewritten(path, changed, change_a_figure)
    err = io.StringIO()
    with pytest.raises(CommandError, match="archive does not verify: 1 problem"):
        call_command("audit", "verify", "--archive", str(changed), stderr=err)
    assert f"drill-{drill.pk}/measurements.json: its SHA-256 differs from SHA256SUMS" in err.getvalue()

    def edit_an_entry_and_the_manifest(files: dict[str, bytes]) -> None:
        import hashlib

        rows = files[folder + "audit.jsonl"].decode().splitlines()
        first = json.loads(rows[-1])
        first["summary"] = "signed off nothing"
        rows[-1] = json.dumps(first, sort_keys=True)
        files[folder + "audit.jsonl"] = ("\n".join(rows) + "\n").encode()
        files[folder + "SHA256SUMS"] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name[len(folder):]}\n"
                                               for name, data in sorted(files.items())
                                               if name != folder + "SHA256SUMS").encode()

    forged = tmp_path / "forged.zip"
    rewritten(path, forged, edit_an_entry_and_the_manifest)
    check = verify_archive(forged)
    assert check.problems == [f"audit.jsonl entry {first_id(path, folder)}: its content no longer matches its MAC "
                              "(edited, or archived with another audit key)"]


def first_id(path: Path, folder: str) -> int:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(folder + "audit.jsonl").decode().splitlines()[-1])["id"]
