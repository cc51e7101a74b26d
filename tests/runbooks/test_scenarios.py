"""Scenarios live beside runbooks: imported from the same YAML, versioned the same way (unchanged
imports add nothing), refused with messages that name the scenario, the inject and the field, and
exported so an export imports back unchanged."""

from __future__ import annotations

import pytest

from runbooks.models import Scenario, ScenarioVersion
from runbooks.services import export_runbooks, import_runbooks
from runbooks.yaml_format import RunbookFormatError
from tests.support.scenarios import orders_system_yaml, region_lost_scenario_yaml, tabletop_runbook_yaml

pytestmark = pytest.mark.django_db


def test_a_scenario_is_versioned_like_a_runbook(import_yaml, orders_db):
    system = orders_system_yaml(orders_db, "http://127.0.0.1:9")
    report = import_yaml(system, region_lost_scenario_yaml())
    assert report.scenario_versions_created == ["region-lost v1"]
    version = ScenarioVersion.objects.get()
    assert [i["key"] for i in version.injects] == ["status-page", "dba-away"]
    assert version.injects[0]["at_seconds"] is None and version.injects[1]["at_seconds"] == 1800

    assert import_yaml(region_lost_scenario_yaml()).scenarios_unchanged == ["region-lost"]
    assert import_yaml(region_lost_scenario_yaml(dba_away="45m")).scenario_versions_created == ["region-lost v2"]
    assert ScenarioVersion.objects.get(number=1).injects[1]["at_seconds"] == 1800  # v1 unchanged


def test_a_broken_scenario_is_refused_whole_with_every_problem_named(import_yaml, orders_db):
    broken = """
scenarios:
  - slug: ransomware
    title: Ransomware in the backups
    system: billing
    injects:
      - title: Backups encrypted
      - title: The attacker calls
        message: They want bitcoin.
        at: soon
        colour: red
"""
    with pytest.raises(RunbookFormatError) as refused:
        import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), broken)
    problems = [str(p) for p in refused.value.problems]
    assert "test-1.yaml: scenario 'ransomware', inject 1: message: required: the full message the participants receive" in problems
    assert any("scenario 'ransomware', inject 2: at: write a positive duration" in p for p in problems)
    assert any("scenario 'ransomware', inject 2: colour: unknown field" in p for p in problems)
    assert not Scenario.objects.exists()

    elsewhere = "scenarios: [{slug: ransomware, system: billing, injects: [{title: Backups encrypted, message: All of them.}]}]"
    with pytest.raises(RunbookFormatError, match="scenario 'ransomware': system: unknown system 'billing'"):
        import_yaml(elsewhere)


def test_an_export_carries_the_scenarios_and_imports_back_unchanged(import_yaml, orders_db, coordinator):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), tabletop_runbook_yaml(), region_lost_scenario_yaml())
    exported = export_runbooks()
    assert "scenarios:" in exported and "dba-away" in exported
    report = import_runbooks(sources=[("export.yaml", exported)], user=coordinator)
    assert report.scenarios_unchanged == ["region-lost"] and report.runbooks_unchanged == ["demo-orders-tabletop"]
    assert "region-lost" in export_runbooks(runbook_slugs=["demo-orders-tabletop"])
