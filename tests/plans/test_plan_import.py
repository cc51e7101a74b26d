"""Recovery plans as code: the order comes from the systems' dependencies (through systems the plan
leaves out), an entry may say explicitly what it waits for, a cycle is refused with the cycle named,
unknown systems and runbooks are refused with every problem at once and nothing saved; versions are
immutable and an unchanged import adds none; the pages import, show the order and start a dry-run."""

from __future__ import annotations

import pytest
from django.test import Client

from plans.models import Plan, PlanDrill, PlanVersion
from plans.services import export_plans, import_plans
from plans.yaml_format import PlanFormatError, stages_of


def estate(*, reports_depend_on: str = "db") -> str:
    """db ← cache ← app ← web, and reports beside app; every runbook one wait step."""
    systems = {"db": [], "cache": ["db"], "app": ["cache"], "web": ["app"], "reports": [reports_depend_on]}
    lines = ["systems:"]
    for slug, dependencies in systems.items():
        lines += [f"  - slug: {slug}", f"    name: {slug.title()}", "    environment: staging", "    tier: 1",
                  f"    depends_on: [{', '.join(dependencies)}]"]
    lines.append("runbooks:")
    for slug in systems:
        lines += [f"  - slug: {slug}-failover", f"    system: {slug}", "    kind: partial_failover", "    steps:",
                  "      - {name: Fail over, action: wait, params: {seconds: 0.1}}"]
    return "\n".join(lines) + "\n"


def plan_yaml(*entries: str) -> str:
    body = "\n".join(f"      - {entry}" for entry in entries)
    return f"""
plans:
  - slug: region-lost
    title: Primary region lost
    rto_target: 30m
    systems:
{body}
"""


REGION_LOST = plan_yaml("{system: web, runbook: web-failover}", "{system: app, runbook: app-failover}",
                        "{system: db, runbook: db-failover}", "{system: reports, runbook: reports-failover}")


def import_plan(text: str, user) -> object:
    return import_plans(sources=[("plan.yaml", text)], user=user)


def test_the_order_follows_dependencies_through_systems_left_out_and_versions_are_immutable(db, import_yaml, coordinator):
    import_yaml(estate())
    report = import_plan(REGION_LOST, coordinator)
    assert report.versions_created == ["region-lost v1"]
    version = Plan.objects.get(slug="region-lost").latest_version
    after = {entry["system"]: entry["after"] for entry in version.systems}
    # cache is not in the plan: app still waits for db, which cache depends on.
    assert after == {"db": [], "app": ["db"], "web": ["app"], "reports": ["db"]}
    assert [entry["system"] for entry in version.systems][0] == "db"
    assert [[e["system"] for e in wave] for wave in stages_of(version.systems)] == [["db"], ["app", "reports"], ["web"]]
    assert version.rto_target_seconds == 1800

    # Unchanged, and its own export, import to nothing new.
    assert import_plan(REGION_LOST, coordinator).unchanged == ["region-lost"]
    assert import_plan(export_plans(), coordinator).unchanged == ["region-lost"]

    # A changed dependency in the inventory changes the order: a new version; v1 stays as it was.
    import_yaml(estate(reports_depend_on="web"))
    assert import_plan(REGION_LOST, coordinator).versions_created == ["region-lost v2"]
    v2 = Plan.objects.get(slug="region-lost").latest_version
    assert {e["system"]: e["after"] for e in v2.systems}["reports"] == ["web"]
    assert PlanVersion.objects.get(number=1).spec == version.spec


def test_an_explicit_after_overrides_the_dependencies_and_exports_as_written(db, import_yaml, coordinator):
    import_yaml(estate())
    import_plan(plan_yaml("{system: db, runbook: db-failover}", "{system: app, runbook: app-failover}",
                          "{system: reports, runbook: reports-failover, after: []}"), coordinator)
    version = Plan.objects.get().latest_version
    entries = {entry["system"]: entry for entry in version.systems}
    assert entries["reports"]["after"] == [] and entries["reports"]["order"] == "explicit"
    assert entries["app"]["order"] == "dependencies"
    assert [[e["system"] for e in wave] for wave in stages_of(version.systems)] == [["db", "reports"], ["app"]]
    exported = export_plans()
    assert "after: []" in exported and exported.count("after:") == 1


def test_a_dependency_cycle_is_refused_at_import_with_the_cycle_named(db, import_yaml, coordinator):
    import_yaml(estate())
    # web waits for app, app for db (their dependencies); db told to wait for web closes the loop.
    with pytest.raises(PlanFormatError) as refused:
        import_plan(plan_yaml("{system: db, runbook: db-failover, after: [web]}", "{system: app, runbook: app-failover}",
                              "{system: web, runbook: web-failover}"), coordinator)
    message = str(refused.value)
    assert "cycle" in message
    assert any(cycle in message for cycle in ("db → web → app → db", "web → app → db → web", "app → db → web → app"))
    assert not Plan.objects.exists()


def test_unknown_systems_and_runbooks_are_refused_all_at_once_and_nothing_is_saved(db, import_yaml, coordinator):
    import_yaml(estate())
    import_plan(REGION_LOST, coordinator)
    with pytest.raises(PlanFormatError) as refused:
        import_plan(plan_yaml("{system: db, runbook: db-failover}", "{system: mainframe, runbook: mainframe-ipl}",
                              "{system: app, runbook: web-failover}", "{system: web, runbook: web-failover, after: [dns]}",
                              "{system: db, runbook: db-failover}"), coordinator)
    problems = "\n".join(str(p) for p in refused.value.problems)
    assert "unknown system 'mainframe'" in problems
    assert "unknown runbook 'mainframe-ipl'" in problems
    assert "runbook 'web-failover' recovers 'web', not 'app'" in problems
    assert "after names 'dns', which is not a system of this plan" in problems
    assert "system 'db' is listed twice" in problems
    assert PlanVersion.objects.count() == 1


def test_the_pages_import_a_plan_show_its_order_and_start_a_dry_run(db, import_yaml, coordinator):
    import_yaml(estate())
    client = Client()
    client.force_login(coordinator)
    refused = client.post("/plans/import/", {"text": plan_yaml("{system: nowhere, runbook: db-failover}")})
    assert refused.status_code == 400 and "unknown system &#x27;nowhere&#x27;" in refused.content.decode()
    assert not Plan.objects.exists()

    assert client.post("/plans/import/", {"text": REGION_LOST}).status_code == 302
    page = client.get("/plans/region-lost/").content.decode()
    assert 'data-system="db"' in page and "Start dry-run" in page

    response = client.post("/plans/region-lost/start/", {"mode": "dry_run"})
    plan_drill = PlanDrill.objects.get()
    assert response["Location"] == plan_drill.get_absolute_url()
    assert plan_drill.is_dry_run
    # Only db waits for nothing: its drill starts at once, as a dry-run; the others wait for it.
    started = {r.system.slug: r.drill for r in plan_drill.recoveries.select_related("system", "drill")}
    assert started["db"] is not None and started["db"].mode == "dry_run"
    assert all(started[slug] is None for slug in ("app", "web", "reports"))
    page = client.get(plan_drill.get_absolute_url()).content.decode()
    assert 'id="system-app" data-state="waiting"' in page
