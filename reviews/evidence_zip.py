"""The evidence pack of a drill as one zip: the post-drill report (PDF and HTML), the drill's record
(steps with their evidence, measurements with theirs, approvals), each step's evidence, the canary
rows, the timeline, the audit entries, the checklist and the lessons, and a manifest of SHA-256
digests (``SHA256SUMS``, checked with ``sha256sum -c SHA256SUMS``)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from typing import Any

from audit.services import export_jsonl, filtered_entries
from drills.evidence_pack import drill_evidence_pack
from drills.models import CanaryWrite, Drill

from .report import Report, drill_report, report_document, report_pdf


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode()


def evidence_files(drill: Drill, report: Report) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "report.pdf": report_pdf(report),
        "report.html": report_document(report).encode(),
        "drill.json": _json(drill_evidence_pack(drill)),
        "measurements.json": _json([
            {"kind": m.kind, "value_seconds": m.value_seconds, "error_bound_seconds": m.error_bound_seconds,
             "target_seconds": m.target_seconds, "met": m.met, "method": m.method, "lost_rows": m.lost_rows,
             "evidence": m.evidence, "measured_at": m.measured_at} for m in report.figures]),
        "timeline.jsonl": "".join(json.dumps({"at": e.at.isoformat(), "kind": e.kind, "message": e.message,
                                              "actor": str(e.actor) if e.actor else None, "data": e.data}, default=str) + "\n"
                                  for e in report.events).encode(),
        "audit.jsonl": "".join(export_jsonl(filtered_entries(drill_id=drill.pk))).encode(),
        "checklist.json": _json([{"position": r.item.position, "title": r.item.title, "state": r.state,
                                  "proof": r.proof.summary if r.proof else None, "note": r.item.note,
                                  "ticked_by": str(r.item.ticked_by) if r.item.ticked_by else None,
                                  "ticked_at": r.item.ticked_at} for r in report.checklist]),
        "lessons.json": _json([{"title": lesson.title, "what_happened": lesson.what_happened, "why": lesson.why,
                                "step": lesson.step_run.position if lesson.step_run else None,
                                "action_items": [{"title": a.title, "owner": a.owner, "due_date": a.due_date,
                                                  "status": a.status, "fixes": a.fixes} for a in lesson.action_items.all()]}
                               for lesson in report.lessons]),
    }
    canary = io.StringIO()
    writer = csv.writer(canary)
    writer.writerow(["seq", "written_at"])
    for write in CanaryWrite.objects.filter(canary__drill=drill).order_by("seq"):
        writer.writerow([write.seq, write.written_at.isoformat()])
    files["canary_rows.csv"] = canary.getvalue().encode()
    for run in report.step_runs:
        files[f"steps/{run.position:02d}-{run.step.key}.json"] = _json(
            {"position": run.position, "key": run.step.key, "name": run.step.name, "action": run.step.action,
             "status": run.status, "evidence": run.evidence, "marks": run.marks, "note": run.note,
             "estimated_minutes": run.estimated_minutes, "started_at": run.started_at, "finished_at": run.finished_at})
    return files


def manifest(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())).encode()


def evidence_zip(drill_id: int) -> bytes:
    report = drill_report(drill_id)
    files = evidence_files(report.drill, report)
    files["SHA256SUMS"] = manifest(files)
    buffer = io.BytesIO()
    # Fixed entry times: the same drill gives the same entries, whenever the pack is made.
    moment = (report.drill.finished_at or report.drill.created_at).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            entry = zipfile.ZipInfo(f"drill-{drill_id}/{name}", date_time=moment)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()
