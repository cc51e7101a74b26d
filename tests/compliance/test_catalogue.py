"""The control catalogue maps a drill's evidence to the controls it supports: a live full failover
with its figures, failback and integrity check supports the expected controls of every framework; a
tabletop supports fewer and never one that asks for a restore or a switchover; what is missing makes
a control partial. The frameworks followed and an organisation's own controls are settings, and a
high-impact system only ever tabletopped is flagged."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from compliance.catalogue import CatalogueError, TestType, catalogue
from compliance.evidence import Support, controls_supported, evidence_of, impact_warnings
from runbooks.models import DrillKind
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_system

pytestmark = pytest.mark.django_db
AT = timezone.make_aware(datetime(2026, 10, 1, 10, 0))

FAILOVER_SUPPORTS = {
    "dora": {"dora-11.6-yearly", "dora-11.6-switchover", "dora-11.8-records", "dora-12.2-restore", "dora-24.6-critical"},
    "dora_rts": {"rts-25-switchover"},
    "iso22301": {"iso22301-8.5-exercise", "iso22301-8.5-solutions"},
    "soc2": {"soc2-a1.2-backup", "soc2-a1.3-plan-test"},
    "nist": {"nist-cp-4", "nist-cp-4-functional", "nist-cp-4.4", "nist-cp-9.1"},
    "pci_dss": {"pci-12.10.2"},
    "hipaa": {"hipaa-164.308-a7-ii-d", "hipaa-164.308-a7-ii-b"},
}
TABLETOP_SUPPORTS = {
    "dora": {"dora-11.6-yearly", "dora-11.8-records", "dora-24.5-remedied"},
    "dora_rts": set(),
    "iso22301": {"iso22301-8.5-exercise", "iso22301-10.1-corrective"},
    "soc2": set(),
    "nist": {"nist-cp-4"},
    "pci_dss": {"pci-12.10.2"},
    "hipaa": {"hipaa-164.308-a7-ii-d"},
}


def by_framework(supports: list, wanted: str = Support.YES) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {key: set() for key in catalogue().frameworks}
    for s in supports:
        if s.support == wanted:
            found[s.control.framework].add(s.control.id)
    return found


def test_a_live_failover_supports_more_controls_than_a_tabletop_which_never_stands_in_for_a_recovery():
    payments = make_system("payments", tier=0, rto=1800, rpo=300)
    failover = drill_with_evidence(payments, DrillKind.FULL_FAILOVER, AT, rto=900, rpo=60, failback=True,
                                   integrity=True)
    tabletop = drill_with_evidence(payments, DrillKind.TABLETOP, AT, mode="tabletop")
    evidence = evidence_of([failover, tabletop], extra={tabletop.pk: {"lessons"}})
    assert evidence[failover.pk].test_type == TestType.FULL_SCALE and evidence[tabletop.pk].test_type == TestType.TABLETOP
    assert evidence[failover.pk].facts == {"timeline", "rto_measured", "rpo_measured", "objectives_met", "failback",
                                           "integrity"}

    failover_supports = controls_supported(evidence[failover.pk])
    tabletop_supports = controls_supported(evidence[tabletop.pk])
    assert by_framework(failover_supports) == FAILOVER_SUPPORTS
    assert by_framework(tabletop_supports) == TABLETOP_SUPPORTS
    # No lessons were recorded for the failover: the controls that ask for them are partial, saying so.
    assert {(s.control.id, s.missing) for s in failover_supports if s.support == Support.PARTIAL} == {
        ("dora-24.5-remedied", ("lessons",)), ("iso22301-10.1-corrective", ("lessons",))}
    for framework in FAILOVER_SUPPORTS:
        assert TABLETOP_SUPPORTS[framework] <= FAILOVER_SUPPORTS[framework] | {"dora-24.5-remedied",
                                                                               "iso22301-10.1-corrective"}
    assert sum(map(len, TABLETOP_SUPPORTS.values())) < sum(map(len, FAILOVER_SUPPORTS.values()))
    # However well a tabletop went, a control asking for a restore or a switchover gets nothing from it.
    for s in tabletop_supports:
        if s.control.min_test_type > TestType.TABLETOP:
            assert s.support == Support.NO, s.control.id

    # A switchover without its failback, and a failover that missed its RTO, support the switchover
    # controls only partially; a dry-run of the same runbook walks through it and restores nothing.
    no_failback = drill_with_evidence(payments, DrillKind.PARTIAL_FAILOVER, AT, rto=900, rpo=60)
    missed = drill_with_evidence(payments, DrillKind.FULL_FAILOVER, AT, rto=4000, rpo=60, failback=True)
    dry_run = drill_with_evidence(payments, DrillKind.FULL_FAILOVER, AT, mode="dry_run")
    more = evidence_of([no_failback, missed, dry_run])
    rts = catalogue().control("rts-25-switchover")
    assert more[no_failback.pk].test_type == TestType.LIVE_SWITCHOVER and more[no_failback.pk].supports(rts) == Support.PARTIAL
    assert next(s for s in controls_supported(more[no_failback.pk]) if s.control == rts).missing == ("failback",)
    assert more[missed.pk].supports(rts) == Support.PARTIAL and not more[missed.pk].passing
    assert more[dry_run.pk].test_type == TestType.WALK_THROUGH
    assert by_framework(controls_supported(more[dry_run.pk]))["dora_rts"] == set()
    assert evidence[failover.pk].passing and not evidence[tabletop.pk].passing


def test_the_frameworks_followed_and_an_organisations_own_controls_are_settings(settings, tmp_path):
    settings.DRDRILL_COMPLIANCE_FRAMEWORKS = ["dora", "soc2"]
    assert set(catalogue().frameworks) == {"dora", "soc2"}
    assert {c.framework for c in catalogue().controls} == {"dora", "soc2"}

    own = tmp_path / "our-controls.yaml"
    own.write_text("""
frameworks:
  acme: {name: ACME internal DR policy}
controls:
  - {id: acme-dr-1, framework: acme, reference: "ACME DR-1", title: Yearly switchover of tier-0 systems,
     min_test_type: live_switchover, evidence: [rto_measured, failback], every_months: 12}
  - {id: soc2-a1.3-plan-test, framework: soc2, reference: "SOC 2 A1.3", title: Recovery plan tested monthly,
     min_test_type: functional_restore, evidence: [rto_measured], every_months: 1}
""")
    settings.DRDRILL_CONTROLS_FILE = str(own)
    settings.DRDRILL_COMPLIANCE_FRAMEWORKS = ["soc2", "acme"]
    cat = catalogue()
    assert cat.control("acme-dr-1").min_test_type == TestType.LIVE_SWITCHOVER
    assert cat.control("soc2-a1.3-plan-test").every_months == 1 and cat.control("soc2-a1.3-plan-test").evidence == ("rto_measured",)
    assert "dora-11.6-yearly" not in {c.id for c in cat.controls}

    own.write_text("controls:\n  - {id: x-1, framework: acme, reference: X, title: X, min_test_type: restore}\n")
    with pytest.raises(CatalogueError, match=r"our-controls.yaml, control 1: control x-1 names framework 'acme'"):
        catalogue()
    own.write_text("frameworks: {acme: {name: A}}\ncontrols:\n  - {id: x-1, framework: acme, reference: X, title: X, "
                   "min_test_type: restore}\n")
    with pytest.raises(CatalogueError, match=r"control x-1: unknown test type 'restore': one of tabletop, walk_through"):
        catalogue()
    settings.DRDRILL_CONTROLS_FILE = ""
    settings.DRDRILL_COMPLIANCE_FRAMEWORKS = ["dora", "sox"]
    with pytest.raises(CatalogueError, match="DRDRILL_COMPLIANCE_FRAMEWORKS names sox"):
        catalogue()


def test_a_high_impact_system_only_ever_tabletopped_is_flagged():
    portal = make_system("portal", tier=1)
    wiki = make_system("wiki", tier=3)
    drill_with_evidence(portal, DrillKind.TABLETOP, AT, mode="tabletop")
    drill_with_evidence(wiki, DrillKind.TABLETOP, AT, mode="tabletop")
    [warning] = impact_warnings([portal, wiki])
    assert warning.system == portal and warning.level == "high"
    assert "Portal is high-impact" in warning.message and "only ever tested by tabletop" in warning.message
    drill_with_evidence(portal, DrillKind.PARTIAL_FAILOVER, AT, rto=60, rpo=60, failback=True)
    assert impact_warnings([portal, wiki]) == []
