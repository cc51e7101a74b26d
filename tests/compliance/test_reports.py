"""What the reports say about compliance. The post-drill report (page and PDF) gives the test type,
the objectives with pass/fail, the controls the drill's evidence supports and, for a high-impact
system only ever tabletopped, a warning. The quarterly report's coverage matrix over a generated
year matches a computation made here, independently, from the rows; its page, CSV and PDF show it."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.test import Client
from django.utils import timezone

from compliance.catalogue import catalogue
from demo.estate import generate_estate
from drills.models import Drill
from programme.quarters import Quarter
from programme.report import quarterly_report
from reviews.models import Lesson
from reviews.services import record_lesson
from runbooks.models import DrillKind, System
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_runbook, make_system
from tests.reviews.test_report import flat, pdf_text

pytestmark = pytest.mark.django_db
QUARTER = Quarter(2026, 3)


def rows_of(page: str, table_id: str) -> dict[str, str]:
    table = page[page.index(f'id="{table_id}"'):]
    table = table[:table.index("</table>")]
    return dict(re.findall(r'data-(?:control|objective)="([^"]+)" data-(?:support|verdict)="([^"]+)"', table))


def test_the_post_drill_report_gives_test_type_objectives_controls_and_the_impact_warning(client: Client, coordinator):
    portal = make_system("portal", tier=1, rto=3600, rpo=300)
    at = timezone.now() - timedelta(days=2)
    tabletop = drill_with_evidence(portal, DrillKind.TABLETOP, at, mode="tabletop")
    client.force_login(coordinator)

    text = flat(pdf_text(client.get(f"/reviews/drills/{tabletop.pk}/report.pdf").content))
    assert "Warning: Portal is high-impact (Tier 1 · hot standby), which calls for a live switchover or more; it " \
           "was only ever tested by tabletop." in text
    assert f"Test #{tabletop.pk} · test type Tabletop" in text
    assert "RTO RTO within 1 h 00 m not measured (tabletop) NOT JUDGED" in text and "PASS" not in text.split()
    assert "DORA Art. 11(6)(a)" in text and "PCI DSS 12.10.2" in text
    page = client.get(f"/reviews/drills/{tabletop.pk}/report/").content.decode()
    supported = rows_of(page, "report-controls")
    assert supported["dora-11.6-yearly"] == "yes" and supported["nist-cp-4"] == "yes"
    assert not {c.id for c in catalogue().controls if c.min_test_type > 1} & set(supported), \
        "a tabletop supports no control that asks for a restore or a switchover"

    failover = drill_with_evidence(portal, DrillKind.PARTIAL_FAILOVER, at + timedelta(hours=1), rto=1200, rpo=900,
                                   failback=True)
    page = client.get(f"/reviews/drills/{failover.pk}/report/").content.decode()
    assert rows_of(page, "report-objectives") == {"RTO": "PASS", "RPO": "FAIL", "Time on the secondary": "PASS",
                                                     "Failback": "PASS"}
    supported = rows_of(page, "report-controls")
    assert supported["dora-11.6-switchover"] == "yes" and supported["nist-cp-4.4"] == "yes"
    assert supported["rts-25-switchover"] == "partial", "the RPO missed its target"
    text = flat(pdf_text(client.get(f"/reviews/drills/{failover.pk}/report.pdf").content))
    assert "test type Live switchover" in text and "Warning:" not in text
    assert "DORA Art. 11(6)(b)" in text and "RTS 2024/1774 Art. 25(2)" in text and "NIST SP 800-53 CP-4(4)" in text
    assert "RPO RPO within 5 m 00 s 15 m 00 s FAIL" in text and "Failback normal functioning restored on the primary " \
           "failback completed PASS" in text
    assert "BIA Tier 1 · hot standby · high impact · supports a critical or important function" in text
    assert "Runbook changes that followed None yet" in text
    make_runbook(portal, "partial_failover", steps=[{"name": "Fail over", "action": "wait", "params": {"seconds": 2}}])
    page = client.get(f"/reviews/drills/{failover.pk}/report/").content.decode()
    assert f"Version 2 of {failover.runbook_version.runbook.title}, {timezone.localdate():%Y-%m-%d}" in page


def kind_of_test(drill: Drill) -> int:
    if drill.mode == "tabletop" or drill.kind == "tabletop":
        return 1
    if drill.mode == "dry_run":
        return 2
    return {"backup_restore": 3, "partial_failover": 4, "full_failover": 5}[drill.kind]


def facts(drill: Drill) -> set[str]:
    found = set()
    if drill.events.exists():
        found.add("timeline")
    if drill.mode == "live" and drill.kind != "tabletop":
        measured = [m for m in drill.measurements.all() if m.value_seconds is not None]
        found |= {f"{m.kind}_measured" for m in measured}
        if measured and all(m.met for m in measured):
            found.add("objectives_met")
        for run in drill.step_runs.filter(status="succeeded"):
            if "failback_complete" in run.marks:
                found.add("failback")
            if "verified" in run.evidence and "tables" in run.evidence:
                found.add("integrity")
    if Lesson.objects.filter(drill=drill).exists():
        found.add("lessons")
    return found


def test_the_coverage_matrix_of_a_generated_year_matches_the_rows(client: Client, coordinator):
    generate_estate(today=date(2026, 11, 20), seed=7, subscriptions=False)
    ends = QUARTER.ends_at
    lessoned = Drill.objects.filter(system__slug="auth-service", kind="tabletop", finished_at__lt=ends).latest("finished_at")
    record_lesson(drill=lessoned, user=coordinator, title="Nobody knew the DNS owner", what_happened="We asked around")

    critical = list(System.objects.filter(tier__in=[0, 1]).order_by("tier", "name"))
    held = {s.pk: list(Drill.objects.filter(system=s, status__in=["succeeded", "failed"], finished_at__lt=ends)
                       .prefetch_related("measurements").order_by("finished_at", "pk")) for s in critical}
    known = {d.pk: (kind_of_test(d), facts(d)) for drills in held.values() for d in drills}
    expected: dict[tuple[str, str], tuple[str, list[int]]] = {}
    for control in catalogue().controls:
        starts = ends - relativedelta(months=control.every_months)
        for system in critical:
            best, ids = "no", []
            for drill in held[system.pk]:
                strength, evidence = known[drill.pk]
                if drill.finished_at < starts or strength < control.min_test_type:
                    continue
                support = "yes" if drill.status == "succeeded" and set(control.evidence) <= evidence else "partial"
                if (support, best) in (("yes", "no"), ("yes", "partial"), ("partial", "no")):
                    best, ids = support, [drill.pk]
                elif support == best:
                    ids.append(drill.pk)
            expected[(control.id, system.slug)] = (best, ids)
    passing = {s.slug: [d.pk for d in held[s.pk] if d.finished_at >= ends - timedelta(days=365)
                        and kind_of_test(d) >= 3 and d.status == "succeeded" and "objectives_met" in known[d.pk][1]]
               for s in critical}
    assert {v[0] for v in expected.values()} == {"yes", "partial", "no"}, "the year holds every kind of cell"
    assert expected[("dora-24.5-remedied", "auth-service")] == ("yes", [lessoned.pk])

    matrix = quarterly_report(QUARTER).coverage
    assert [s.slug for s in matrix.systems] == [s.slug for s in critical]
    got = {(row.control.id, cell.system.slug): (cell.support, cell.drill_ids) for row in matrix.rows for cell in row.cells}
    assert got == expected
    assert {s.slug: matrix.passing[s.pk] for s in critical} == {slug: ids[-1] if ids else None for slug, ids in passing.items()}
    passing_count = sum(1 for ids in passing.values() if ids)
    assert 0 < passing_count < len(critical) and matrix.passing_count == passing_count

    client.force_login(coordinator)
    page = client.get(f"/reports/{QUARTER}/").content.decode()
    for (control_id, slug), (support, ids) in expected.items():
        assert f'id="cov-{control_id}-{slug}" data-support="{support}" data-drills="{" ".join(map(str, ids))}"' in page
    rows = [r for r in csv.reader(io.StringIO(client.get(f"/reports/{QUARTER}/report.csv").content.decode()))
            if r and r[0] == "coverage"]
    assert {(r[1], r[4]): (r[5], [int(i) for i in r[6].split()]) for r in rows[1:]} == expected
    text = flat(pdf_text(client.get(f"/reports/{QUARTER}/report.pdf").content))
    assert "Control coverage of critical systems" in text
    assert f"Critical systems with a passing drill in the last 365 days: {passing_count} of {len(critical)}" in text
    for reference in ("DORA Art. 11(6)(b)", "RTS 2024/1774 Art. 25(2)", "ISO 22301 §8.5", "SOC 2 A1.3",
                      "NIST SP 800-53 CP-9(1)", "PCI DSS 12.10.2", "HIPAA 164.308(a)(7)(ii)(B)"):
        assert reference in text, reference
