"""What the post-drill report carries that every framework asks for, beyond test type and
objectives: the scenario's flags (severe but plausible, cyber-attack, third-party failure, key person
absent), who took part and in what role, whether an independent tester ran or witnessed the drill,
and for a switchover the time the service was held on the secondary. The page and the PDF say the
same; a flag the YAML format does not know is refused with a message and nothing is saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from drills.tabletop import start_tabletop
from runbooks.models import Scenario, ScenarioVersion
from runbooks.yaml_format import RunbookFormatError
from tests.programme.factories import make_runbook, make_system
from tests.reviews.test_report import flat, pdf_text

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
