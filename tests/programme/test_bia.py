"""The business impact analysis: the recovery order that follows from the dependencies, and every
warning where the plan cannot hold, each on a hand-built estate."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.test import Client

from programme.bia import WarningKind, business_impact_analysis
from runbooks.models import System
from tests.programme.factories import finished_drill, make_system

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 9, 1, 10, tzinfo=timezone.utc)


def analysis():
    from programme.achieved import with_last_achieved

    return business_impact_analysis(with_last_achieved(System.objects.order_by("tier", "name")))


def kinds_for(bia, slug: str) -> list[str]:
    return sorted(w.kind for w in bia.warnings if w.system == slug)


def test_recovery_order_puts_every_system_after_what_it_depends_on():
    make_system("database", tier=0, rto=1200, rpo=60)
    make_system("gateway", tier=0, rto=1200, rpo=60)
    make_system("payments", tier=0, rto=1800, rpo=300, depends_on=("gateway", "database"))
    make_system("portal", tier=1, rto=7200, rpo=1800, depends_on=("payments",))
    make_system("wiki", tier=3, rto=86400, rpo=86400)
    waves = [[s.slug for s in wave] for wave in analysis().waves]
    assert waves == [["database", "gateway", "wiki"], ["payments"], ["portal"]]


def test_a_dependency_cycle_is_named_and_its_systems_share_a_wave():
    make_system("a", tier=1, rto=3600, rpo=900)
    make_system("b", tier=1, rto=3600, rpo=900, depends_on=("a",))
    make_system("c", tier=1, rto=3600, rpo=900, depends_on=("b",))
    a = System.objects.get(slug="a")
    a.dependencies.add(System.objects.get(slug="c"))
    make_system("d", tier=2, rto=8 * 3600, rpo=3600, depends_on=("c",))
    bia = analysis()
    cycle = [w for w in bia.warnings if w.kind == WarningKind.CYCLE]
    assert {w.system for w in cycle} == {"a", "b", "c"}
    assert "Dependency cycle: A → B → C → A" in cycle[0].message
    assert [[s.slug for s in wave] for wave in bia.waves] == [["a", "b", "c"], ["d"]]


def test_a_dependency_whose_last_achieved_rto_exceeds_its_dependants_target():
    warehouse = make_system("warehouse", tier=2, rto=4 * 3600, rpo=3600)
    make_system("reporting", tier=2, rto=8 * 3600, rpo=4 * 3600, depends_on=("warehouse",))
    finished_drill(warehouse, "full_failover", WHEN, rto=3 * 3600, rpo=600)
    finished_drill(warehouse, "full_failover", WHEN.replace(month=10), rto=9 * 3600, rpo=600)  # the last one counts
    bia = analysis()
    assert kinds_for(bia, "reporting") == [WarningKind.DEPENDENCY_ACHIEVED]
    message = next(w.message for w in bia.warnings if w.system == "reporting")
    assert "Reporting's RTO target (8 h" in message and "last achieved 9 h" in message


def test_a_tabletop_or_dry_run_figure_never_counts_as_achieved():
    warehouse = make_system("warehouse", tier=2, rto=4 * 3600, rpo=3600)
    make_system("reporting", tier=2, rto=8 * 3600, rpo=4 * 3600, depends_on=("warehouse",))
    finished_drill(warehouse, "tabletop", WHEN, rto=20 * 3600)
    finished_drill(warehouse, "full_failover", WHEN, rto=20 * 3600, mode="dry_run")
    assert kinds_for(analysis(), "reporting") == []


def test_a_target_tighter_than_a_dependencys_target():
    make_system("warehouse", tier=2, rto=12 * 3600, rpo=4 * 3600)
    make_system("reporting", tier=2, rto=8 * 3600, rpo=4 * 3600, depends_on=("warehouse",))
    bia = analysis()
    assert kinds_for(bia, "reporting") == [WarningKind.TIGHTER_THAN_DEPENDENCY]
    assert "RTO target (8 h" in bia.warnings[0].message


def test_a_tier_0_or_1_system_never_drilled_live_and_targets_outside_the_band():
    make_system("ledger", tier=0, rto=1800, rpo=300)
    make_system("portal", tier=1, rto=7200, rpo=1800)
    make_system("archive", tier=3, rto=3600, rpo=86400)  # an hour is tier 0's band, not tier 3's
    portal = System.objects.get(slug="portal")
    finished_drill(portal, "tabletop", WHEN)  # a tabletop is not a live drill
    bia = analysis()
    assert kinds_for(bia, "ledger") == [WarningKind.NEVER_DRILLED_LIVE]
    assert kinds_for(bia, "portal") == [WarningKind.NEVER_DRILLED_LIVE]
    assert kinds_for(bia, "archive") == [WarningKind.OUTSIDE_BAND]
    finished_drill(System.objects.get(slug="ledger"), "full_failover", WHEN, rto=1200, rpo=60)
    assert kinds_for(analysis(), "ledger") == []


def test_the_bia_page_draws_the_graph_inline_without_inline_styles(client: Client, coordinator):
    make_system("database", tier=0, rto=1200, rpo=60)
    make_system("payments", tier=0, rto=1800, rpo=300, depends_on=("database",))
    client.force_login(coordinator)
    response = client.get("/programme/bia/")
    page = response.content.decode()
    assert 'id="dependency-graph"' in page, (response.status_code, page[-3000:])
    graph = page[page.index('id="dependency-graph"'):]
    graph = graph[:graph.index("</svg>")]
    assert "<svg" in graph and "Payments" in graph and "system-database" in graph
    assert "style=" not in graph and "<style" not in graph and "<script" not in graph
    assert "Wave 1" in page and "never been drilled live" in page
