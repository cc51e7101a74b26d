"""The quarterly DR report over the demo estate's generated history: the expected figures of a
quarter are computed here, independently, from the generated rows, and the page, the CSV and the
PDF's text must show them. An archived quarter is the same document, byte for byte, every time."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.test import Client

from demo.estate import generate_estate
from drills.models import Drill, Measurement
from programme.quarters import Quarter
from runbooks.durations import format_duration
from runbooks.models import System

pytestmark = pytest.mark.django_db
QUARTER = Quarter(2026, 3)


@pytest.fixture
def estate():
    generate_estate(today=date(2026, 11, 20), seed=7, subscriptions=False)


def expected_figures() -> dict[str, dict[str, list[float]]]:
    """From the rows themselves: live drills of recovery kinds that ended in the quarter, oldest first."""
    figures: dict[str, dict[str, list[float]]] = {}
    drills = (Drill.objects.filter(mode="live", status__in=["succeeded", "failed"], finished_at__gte=QUARTER.starts_at,
                                   finished_at__lt=QUARTER.ends_at).exclude(kind="tabletop").order_by("finished_at", "id"))
    for drill in drills:
        for m in Measurement.objects.filter(drill=drill, value_seconds__isnull=False):
            figures.setdefault(drill.system.slug, {"rto": [], "rpo": []})[m.kind].append(m.value_seconds)
    return figures


def test_the_page_shows_each_systems_last_best_and_worst_figures(estate, client: Client, coordinator):
    expected = expected_figures()
    assert len(expected) >= 6, "the generated history covers the quarter"
    client.force_login(coordinator)
    page = client.get(f"/reports/{QUARTER}/").content.decode()
    for slug, figures in expected.items():
        row = page[page.index(f'id="result-{slug}"'):]
        row = row[:row.index("</tr>")]
        rto = figures["rto"]
        assert f'rto-last">{format_duration(rto[-1])}<' in row, slug
        assert format_duration(min(rto)) in row and format_duration(max(rto)) in row
        assert f'rpo-last">{format_duration(figures["rpo"][-1])}<' in row
        target = System.objects.get(slug=slug).rto_target_seconds
        assert ("pass" if rto[-1] <= target else "fail") in row
    assert 'data-verdict="not drilled"' in page[page.index('id="result-notification-service"'):][:200]
    assert "SAMPLE DATA" in page and "0 opened and 0 closed this quarter; 0 open at its end" in page
    assert "/charts/overview.svg" in page and "/charts/payment-processing.svg" in page


def test_the_summary_counts_match_the_rows(estate, client: Client, coordinator):
    expected = expected_figures()
    targets = {s.slug: (s.rto_target_seconds, s.rpo_target_seconds) for s in System.objects.all()}
    meeting = sum(1 for slug, f in expected.items()
                  if f["rto"][-1] <= targets[slug][0] and f["rpo"][-1] <= targets[slug][1])
    held = Drill.objects.filter(status__in=["succeeded", "failed"], mode="live", finished_at__gte=QUARTER.starts_at,
                                finished_at__lt=QUARTER.ends_at).count()
    client.force_login(coordinator)
    page = client.get(f"/reports/{QUARTER}/").content.decode()
    assert f'id="summary-meeting">{meeting} of {len(expected)}<' in page
    assert f'id="summary-held">{held} of ' in page

    rows = list(csv.reader(io.StringIO(client.get(f"/reports/{QUARTER}/report.csv").content.decode())))
    summary = dict(zip(rows[1][1:], next(r for r in rows[2:] if r and r[0] == "summary")[1:]))
    assert int(summary["systems_meeting_targets"]) == meeting and int(summary["drills_held"]) == held
    assert summary["open_action_items"] == "0" and int(summary["sample_drills"]) > 0


def test_the_csv_carries_the_same_figures(estate, client: Client, coordinator):
    expected = expected_figures()
    client.force_login(coordinator)
    rows = list(csv.reader(io.StringIO(client.get(f"/reports/{QUARTER}/report.csv").content.decode())))
    header = next(r for r in rows if r and r[0] == "system" and r[1] == "slug")
    systems = {r[1]: dict(zip(header, r)) for r in rows if r and r[0] == "system" and r[1] != "slug"}
    for slug, figures in expected.items():
        row = systems[slug]
        assert float(row["rto_last_s"]) == figures["rto"][-1]
        assert float(row["rto_best_s"]) == min(figures["rto"]) and float(row["rto_worst_s"]) == max(figures["rto"])
        assert float(row["rpo_last_s"]) == figures["rpo"][-1]
    trend = [r for r in rows if r and r[0] == "trend" and r[1] == "payment-processing"]
    assert len(trend) >= 6 and trend[-1][2] == str(QUARTER)


def test_the_pdf_text_holds_the_figures(estate, client: Client, coordinator):
    from pypdf import PdfReader

    expected = expected_figures()
    client.force_login(coordinator)
    response = client.get(f"/reports/{QUARTER}/report.pdf")
    assert response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert f"Quarterly DR report {QUARTER}" in text and "Executive summary" in text
    assert "0 opened and 0 closed this quarter" in text and "SAMPLE DATA" in text
    for slug, figures in expected.items():
        name = System.objects.get(slug=slug).name
        line = next(line for line in text.splitlines() if line.startswith(f"T{System.objects.get(slug=slug).tier} {name}"))
        assert format_duration(figures["rto"][-1]) in line and format_duration(figures["rpo"][-1]) in line, line


def test_an_archived_quarter_is_byte_identical_when_fetched_again(estate, client: Client, coordinator, tmp_path):
    client.force_login(coordinator)
    assert client.post(f"/reports/{QUARTER}/archive/").status_code == 302
    first = client.get(f"/reports/{QUARTER}/archived.pdf")
    digest = first["X-Content-SHA256"]
    assert hashlib.sha256(first.content).hexdigest() == digest

    # New history arrives after the quarter was issued: the live report changes, the archive does not.
    system = System.objects.get(slug="payment-processing")
    drill = Drill.objects.filter(system=system, sample=True, kind="full_failover").first()
    late = Drill.objects.create(runbook_version=drill.runbook_version, system=system, kind="full_failover", mode="live",
                                status="succeeded", started_at=QUARTER.starts_at,
                                finished_at=QUARTER.ends_at - timedelta(minutes=1))
    Measurement.objects.create(drill=late, kind="rto", value_seconds=1, target_seconds=1800, met=True, method="test")
    again = client.get(f"/reports/{QUARTER}/archived.pdf")
    assert again.content == first.content and again["X-Content-SHA256"] == digest
    for fmt in ("csv", "html"):
        assert client.get(f"/reports/{QUARTER}/archived.{fmt}").content == client.get(
            f"/reports/{QUARTER}/archived.{fmt}").content
    fresh = client.get(f"/reports/{QUARTER}/report.csv").content
    assert b"payment-processing,Payment processing,0,Payments team,1800,1," in fresh
    assert b"payment-processing,Payment processing,0,Payments team,1800,1," not in client.get(
        f"/reports/{QUARTER}/archived.csv").content

    # The command line gives the archived document too, and the quarter is never archived twice.
    out = tmp_path / "report.pdf"
    call_command("report", "quarterly", str(QUARTER), "--format", "pdf", "-o", str(out))
    assert out.read_bytes() == first.content
    refused = client.post(f"/reports/{QUARTER}/archive/", follow=True).content.decode()
    assert "never replaced" in refused


def test_a_quarter_that_has_not_ended_is_not_archived(client: Client, coordinator):
    client.force_login(coordinator)
    current = Quarter.current()
    page = client.post(f"/reports/{current}/archive/", follow=True).content.decode()
    assert "is archived once it has ended" in page
    assert client.get(f"/reports/{current}/archived.pdf").status_code == 404
    assert client.get("/reports/2026-Q9/").status_code == 404


def test_the_command_line_writes_the_same_csv_as_the_page(estate, client: Client, coordinator, tmp_path):
    client.force_login(coordinator)
    out = tmp_path / "r.csv"
    call_command("report", "quarterly", str(QUARTER), "--format", "csv", "-o", str(out))
    assert out.read_bytes() == client.get(f"/reports/{QUARTER}/report.csv").content
