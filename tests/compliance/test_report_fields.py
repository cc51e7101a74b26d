"""What the post-drill report carries that every framework asks for, beyond test type and
objectives: the scenario's flags (severe but plausible, cyber-attack, third-party failure, key person
absent), who took part and in what role, whether an independent tester ran or witnessed the drill,
and for a switchover the time the service was held on the secondary. The page and the PDF say the
same; a flag the YAML format does not know is refused with a message and nothing is saved."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from drills.models import Approval, Drill, StepRun
from drills.tabletop import start_tabletop
from plans.models import FailbackLink
from reviews.services import record_lesson
from runbooks.models import DrillKind, Scenario, ScenarioVersion
from runbooks.services import export_runbooks
from runbooks.yaml_format import RunbookFormatError
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_runbook, make_system
from tests.reviews.test_report import flat, pdf_text
from tests.support.roles import user_with_role

pytestmark = pytest.mark.django_db

FLAGGED_SCENARIO = """
scenarios:
  - slug: supplier-ransomware
    title: Ransomware at the hosting supplier
    flags: [key_person_absent, cyber_attack, third_party_failure, severe_but_plausible]
    injects:
      - title: The supplier's portal is down
        message: Their status page says nothing.
"""


def test_a_tabletops_report_shows_its_scenarios_flags(client: Client, coordinator, import_yaml):
    portal = make_system("portal", tier=1)
    runbook = make_runbook(portal, "tabletop")
    import_yaml(FLAGGED_SCENARIO)
    tabletop = start_tabletop(runbook_version=runbook.latest_version, user=coordinator,
                              scenario_version=ScenarioVersion.objects.get())
    client.force_login(coordinator)
    flags = "Scenario flags: severe but plausible, cyber-attack, third-party failure, key person absent"
    assert flags in client.get(f"/reviews/drills/{tabletop.pk}/report/").content.decode()
    assert flags in flat(pdf_text(client.get(f"/reviews/drills/{tabletop.pk}/report.pdf").content))
    exported = export_runbooks()
    assert "flags:" in exported and import_yaml(exported).scenarios_unchanged == ["supplier-ransomware"]


def test_an_unknown_or_repeated_flag_is_refused_and_nothing_saved(import_yaml):
    broken = FLAGGED_SCENARIO.replace("key_person_absent, cyber_attack", "ransomware, cyber_attack, cyber_attack")
    with pytest.raises(RunbookFormatError) as refused:
        import_yaml(broken)
    problems = [str(p) for p in refused.value.problems]
    assert ("test-0.yaml: scenario 'supplier-ransomware': flags: unknown flag 'ransomware'; a scenario's flags are: "
            "severe_but_plausible, cyber_attack, third_party_failure, key_person_absent") in problems
    assert "test-0.yaml: scenario 'supplier-ransomware': flags: 'cyber_attack' is given twice; give each flag once" \
        in problems
    assert not Scenario.objects.exists()


def test_the_report_lists_who_took_part_in_what_role_and_the_independent_tester(client: Client, coordinator):
    portal = make_system("portal", tier=1, rto=3600, rpo=300)
    make_runbook(portal, "partial_failover", steps=[{"name": "Fail over", "action": "wait", "params": {"seconds": 1}},
                                                    {"name": "Check the portal", "action": "wait", "params": {"seconds": 1}}])
    at = timezone.now() - timedelta(hours=3)
    drill = drill_with_evidence(portal, DrillKind.PARTIAL_FAILOVER, at, rto=1200, rpo=60, failback=True)
    Drill.objects.filter(pk=drill.pk).update(started_by=coordinator)
    approver, operator = user_with_role("avery", "approver"), user_with_role("olivia", "participant")
    Approval.objects.create(drill=drill, gate=Approval.Gate.START, decision=Approval.Decision.APPROVED,
                            decided_by=approver, decided_at=at, comment="Go.")
    StepRun.objects.filter(drill=drill).update(acted_by=operator)
    second = drill.runbook_version.steps.get(position=2)
    StepRun.objects.create(drill=drill, step=second, position=2, status=StepRun.Status.SUCCEEDED, acted_by=operator,
                           started_at=at, finished_at=at)
    record_lesson(drill=drill, user=operator, title="The DNS TTL was an hour", what_happened="Clients kept the old IP")
    client.force_login(coordinator)

    url = f"/reviews/drills/{drill.pk}/report/independent-tester/"
    refused = client.post(url, {"tester": "  ", "capacity": "witnessed"}, follow=True).content.decode()
    assert "Name the independent tester" in refused
    assert client.post(url, {"tester": "Ines Auditor, Example Audit LLP", "capacity": "napping"}, follow=True) \
        .content.decode().count("Unknown capacity &#x27;napping&#x27;") == 1
    drill.refresh_from_db()
    assert drill.independent_tester == "" and not AuditEntry.objects.filter(action="drill.independent_tester").exists()

    viewer = user_with_role("vic", "viewer")
    client.force_login(viewer)
    assert client.post(url, {"tester": "Vic", "capacity": "ran"}).status_code == 403
    client.force_login(coordinator)
    client.post(url, {"tester": "Ines Auditor, Example Audit LLP", "capacity": "witnessed"})
    entry = AuditEntry.objects.get(action="drill.independent_tester")
    assert entry.actor_name == "casey" and entry.drill_id == drill.pk

    page = client.get(f"/reviews/drills/{drill.pk}/report/").content.decode()
    table = page[page.index('id="report-participants"'):]
    table = table[:table.index("</table>")]
    rows = {name: (roles, acts) for name, roles, acts in
            re.findall(r'data-participant="([^"]+)"><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>', table)}
    assert rows == {
        "avery": ("approver", "approved the start"),
        "casey": ("administrator", "started the drill; recorded the independent tester"),
        "olivia": ("participant", "confirmed steps 1, 2; wrote lessons"),
    }
    assert "Ines Auditor, Example Audit LLP witnessed the drill (independent of the team; recorded by casey" in page
    text = flat(pdf_text(client.get(f"/reviews/drills/{drill.pk}/report.pdf").content))
    assert "Independent tester Ines Auditor, Example Audit LLP witnessed the drill (independent of the team" in text
    assert "olivia participant confirmed steps 1, 2; wrote lessons" in text
    assert "avery approver approved the start" in text


def test_a_switchovers_report_gives_the_time_held_on_the_secondary(client: Client, coordinator):
    portal = make_system("portal", tier=1, rto=3600, rpo=300)
    restored = timezone.now() - timedelta(hours=5)
    failover = drill_with_evidence(portal, DrillKind.PARTIAL_FAILOVER, restored, rto=600, rpo=30)
    Drill.objects.filter(pk=failover.pk).update(finished_at=restored + timedelta(minutes=10))
    failback = drill_with_evidence(portal, DrillKind.PARTIAL_FAILOVER, restored + timedelta(hours=2, minutes=5),
                                   failback=True)
    FailbackLink.objects.create(failover=failover, failback=failback, started_by=coordinator)
    unlinked = drill_with_evidence(portal, DrillKind.FULL_FAILOVER, restored, rto=600, rpo=30)
    Drill.objects.filter(pk=unlinked.pk).update(finished_at=restored + timedelta(minutes=45))
    client.force_login(coordinator)

    line = (f"Time on the secondary the service runs on the secondary until failback held 2 h 05 m (from service "
            f"restored to the start of failback drill #{failback.pk}) PASS")
    assert line in flat(pdf_text(client.get(f"/reviews/drills/{failover.pk}/report.pdf").content))
    page = client.get(f"/reviews/drills/{failover.pk}/report/").content.decode()
    assert 'data-objective="Time on the secondary" data-verdict="PASS"' in page and "held 2 h 05 m" in page
    text = flat(pdf_text(client.get(f"/reviews/drills/{unlinked.pk}/report.pdf").content))
    assert "held 45 m 00 s (from service restored to the drill's end; no failback linked) PASS" in text
    assert "Time on the secondary" not in client.get(f"/reviews/drills/{failback.pk}/report/").content.decode(), \
        "a failback is not itself held on the secondary"
