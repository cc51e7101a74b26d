"""The post-drill report and the evidence pack: the PDF (rendered by WeasyPrint, read back with
pypdf) holds the system, the figures with their bounds, the checklist state and the lessons; a
tabletop's holds its estimates and no achieved figure; text people typed stays text; the evidence
pack's manifest matches its files; the CLI writes both, and `drill show --json` gives each figure's
value, bound and method (a tabletop's: estimates only)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from drills.models import Drill
from drills.tabletop import mark_item
from reviews.services import ActionDraft, record_lesson
from tests.support.scenarios import backup_restore_runbook_yaml, orders_system_yaml, tabletop_runbook_yaml
from tests.support.waiting import wait_for_drill

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.worker
def test_a_live_drills_report_and_evidence_pack(worker, client: Client, import_yaml, orders_db, orders_service, coordinator,
                                               tmp_path):
    import_yaml(orders_system_yaml(orders_db, orders_service), backup_restore_runbook_yaml())
    client.force_login(coordinator)
    client.post("/runbooks/demo-orders-backup-restore/start/", {"mode": "live", "confirmed": "1"})
    drill = wait_for_drill(Drill.objects.get(), timeout=90)
    record_lesson(drill=drill, user=coordinator, title="The restore took longer than planned",
                  what_happened="Restore waited on the backup copy",
                  action=ActionDraft("Keep a warm copy", "Data platform team", timezone.localdate() + timedelta(days=7)))
    rto, rpo = drill.rto, drill.rpo

    response = client.get(f"/reviews/drills/{drill.pk}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = flat(pdf_text(response.content))
    assert "Orders (orders" in text and "Tier 2" in text
    assert "RTO:" in text and "±" in text and "Method" in text and rto.method in text
    assert "Target 2 m 00 s — MET" in text or "Target 2 m 00 s — MISSED" in text
    assert "RPO:" in text and "Canary rows lost" in text
    assert "Measure RTO (time to restore) Done (proven)" in text and "Perform failback Open" in text
    assert "The restore took longer than planned" in text and "Keep a warm copy — Data platform team" in text

    call_command("review", "report", str(drill.pk), "--format", "html", "-o", str(tmp_path / "report.html"))
    assert "Post-drill report" in (tmp_path / "report.html").read_text()
    call_command("review", "evidence", str(drill.pk), "-o", str(tmp_path / "pack.zip"))
    with zipfile.ZipFile(tmp_path / "pack.zip") as pack:
        names = pack.namelist()
        prefix = f"drill-{drill.pk}/"
        for expected in ("report.pdf", "report.html", "drill.json", "measurements.json", "timeline.jsonl", "audit.jsonl",
                         "canary_rows.csv", "checklist.json", "lessons.json", "steps/04-disaster.json", "SHA256SUMS"):
            assert prefix + expected in names, expected
        manifest = pack.read(prefix + "SHA256SUMS").decode().splitlines()
        assert len(manifest) == len(names) - 1
        for line in manifest:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(pack.read(prefix + name)).hexdigest() == digest, name
        canary = pack.read(prefix + "canary_rows.csv").decode().splitlines()
        assert canary[0] == "seq,written_at" and len(canary) > 2
        assert any(json.loads(line)["action"] == "drill.started" for line in pack.read(prefix + "audit.jsonl").decode().splitlines())

    out = io.StringIO()
    call_command("drill", "show", str(drill.pk), "--json", stdout=out)
    shown = json.loads(out.getvalue())
    figures = {f["kind"]: f for f in shown["figures"]}
    assert figures["rto"]["value_seconds"] == rto.value_seconds and figures["rto"]["error_bound_seconds"] == rto.error_bound_seconds
    assert figures["rto"]["method"] == rto.method and shown["rto_method"] == rto.method
    assert figures["rpo"]["method"] == rpo.method and "rpo_error_bound_seconds" in shown


@pytest.mark.django_db
def test_a_tabletops_report_holds_estimates_and_no_achieved_figure(client: Client, import_yaml, orders_db, coordinator,
                                                                   start_drill, tmp_path):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), tabletop_runbook_yaml())
    drill = start_drill("demo-orders-tabletop", mode="tabletop")
    for position, minutes in ((1, 5), (2, 1), (3, 40), (4, 15)):
        mark_item(step_run=drill.step_runs.select_related("step").get(position=position), user=coordinator,
                  outcome="done", estimated_minutes=minutes, note=SCRIPT if position == 3 else "")
    record_lesson(drill=drill, user=coordinator, title=IMG, what_happened=SCRIPT)

    client.force_login(coordinator)
    text = flat(pdf_text(client.get(f"/reviews/drills/{drill.pk}/report.pdf").content))
    assert "Estimates (tabletop: nothing was run or measured)" in text
    assert "Estimated total 61 min" in text and "Estimated recovery time 55 min (estimate)" in text
    assert "achieved" not in text.lower() and "MET" not in text.split()
    # What participants typed is printed as the text it is.
    assert SCRIPT in text and 'img src=x onerror="window.__xss=2"' in text

    for url in (f"/drills/{drill.pk}/", f"/reviews/drills/{drill.pk}/", f"/reviews/drills/{drill.pk}/report/",
                f"/drills/{drill.pk}/walkthrough/"):
        body = client.get(url).content.decode()
        assert "<script>window.__xss" not in body and '<img src=x onerror' not in body, url
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in body or url.endswith("/drills/%d/" % drill.pk), url

    out = io.StringIO()
    call_command("drill", "show", str(drill.pk), "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["estimates"]["total_minutes"] == 61 and shown["estimates"]["recovery_minutes"] == 55
    assert not any(key.startswith(("rto", "rpo")) for key in shown) and "figures" not in shown
    call_command("review", "report", str(drill.pk), "-o", str(tmp_path / "tabletop.pdf"))
    assert "achieved" not in pdf_text((tmp_path / "tabletop.pdf").read_bytes()).lower()
