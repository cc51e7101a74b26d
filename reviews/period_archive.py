"""The archive of a period: every drill that ended in it with its evidence pack's files (report PDF
and HTML, record, steps, figures, canary rows, timeline, checklist, lessons), the stored revisions of
its report with their sign-offs, the audit entries of the period with every field their MACs cover,
and one ``SHA256SUMS`` over all of it. ``manage.py audit verify --archive FILE`` checks it offline."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime, time

from django.conf import settings
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import archive_rows, key_id
from drills.models import Drill

from .evidence_zip import evidence_files, manifest
from .models import ReportRevision
from .report import drill_report


def _bounds(starts: date, ends: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (timezone.make_aware(datetime.combine(starts, time.min), zone),
            timezone.make_aware(datetime.combine(ends, time.min), zone))


def period_archive(*, starts: date, ends: date) -> bytes:
    """The period [starts, ends) as one zip, the same bytes for the same records."""
    begin, end = _bounds(starts, ends)
    files: dict[str, bytes] = {}
    drills = list(Drill.objects.filter(finished_at__gte=begin, finished_at__lt=end).order_by("finished_at", "pk")
                  .values_list("pk", flat=True))
    for drill_id in drills:
        report = drill_report(drill_id)
        for name, data in evidence_files(report.drill, report).items():
            files[f"drill-{drill_id}/{name}"] = data
        revisions = list(ReportRevision.objects.filter(drill_id=drill_id).select_related("signed_off_by")
                         .order_by("number"))
        for revision in revisions:
            files[f"drill-{drill_id}/revisions/r{revision.number}.html"] = revision.content.encode()
        files[f"drill-{drill_id}/revisions.json"] = (json.dumps([
            {"number": r.number, "sha256": r.sha256, "reason": r.reason, "created_at": r.created_at,
             "signed_off_by": str(r.signed_off_by) if r.signed_off_by else None, "signed_off_at": r.signed_off_at,
             "comment": r.sign_off_comment} for r in revisions], indent=2, default=str) + "\n").encode()
    files["audit.jsonl"] = "".join(archive_rows(AuditEntry.objects.filter(at__gte=begin, at__lt=end))).encode()
    files["period.json"] = (json.dumps({"from": starts.isoformat(), "to_exclusive": ends.isoformat(), "drills": drills,
                                        "audit_key_id": key_id(), "retention_years": settings.DRDRILL_RETENTION_YEARS},
                                       indent=2) + "\n").encode()
    files["SHA256SUMS"] = manifest(files)
    folder = f"drdrill-archive-{starts.isoformat()}-{ends.isoformat()}"
    moment = (max(starts, min(ends, timezone.localdate())).timetuple()[:3]) + (0, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            entry = zipfile.ZipInfo(f"{folder}/{name}", date_time=moment)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


def archive_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
