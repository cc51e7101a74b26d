"""Tabletop exercises: any runbook walked through by people against a scenario. Nothing is executed
or measured, whatever the engine's sweep does meanwhile; items are done, skipped or blocked with who,
when, a note and an estimate; injects land once; aborting warns of nothing; audit entries, the
timeline and the metrics call it a tabletop."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEntry
from drills.evidence_pack import drill_summary
from drills.models import Drill, DrillEvent, EventKind, Measurement, Presence, StepRun
from drills.services import DrillActionRefused, abort_drill, confirm_step, drill_start, skip_step
from drills.tabletop import (
    TabletopRefused,
    end_tabletop,
    mark_item,
    release_due_injects,
    release_inject,
    start_tabletop,
)
from runbooks.models import Runbook, ScenarioVersion
from tests.support.roles import user_with_role
from tests.support.scenarios import (
    backup_restore_runbook_yaml,
    orders_system_yaml,
    region_lost_scenario_yaml,
    tabletop_runbook_yaml,
)


def version_of(slug: str):
    return Runbook.objects.get(slug=slug).latest_version


def item(drill: Drill, position: int) -> StepRun:
    return drill.step_runs.select_related("step").get(position=position)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.worker
def test_a_tabletop_of_an_automated_runbook_executes_and_measures_nothing(worker, import_yaml, orders_db, coordinator):
    """The backup-restore runbook deletes the orders database when it runs. Walked as a tabletop
    while real workers sweep every second, the file is untouched and no step ever starts."""
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), backup_restore_runbook_yaml())
    before = digest(orders_db)
    drill = drill_start(runbook_version=version_of("demo-orders-backup-restore"), user=coordinator, mode="tabletop")
    assert drill.mode == Drill.Mode.TABLETOP and drill.status == Drill.Status.WALKING

    time.sleep(3.5)  # three sweeps of the test workers: a tabletop is never theirs to advance
    for position in range(1, 7):
        mark_item(step_run=item(drill, position), user=coordinator, outcome="done", estimated_minutes=5)
    time.sleep(2.5)  # every item done: an ACTIVE drill would now be finished and measured by a worker
    drill.refresh_from_db()
    assert drill.status == Drill.Status.WALKING
    end_tabletop(drill=drill, user=coordinator)

    drill.refresh_from_db()
    assert drill.status == Drill.Status.SUCCEEDED and "6 done" in drill.outcome
    assert digest(orders_db) == before
    assert not drill.step_runs.filter(started_at__isnull=False).exists()
    assert not DrillEvent.objects.filter(drill=drill, kind__in=[EventKind.STEP_STARTED, EventKind.DRILL_SUCCEEDED]).exists()
    assert not Measurement.objects.filter(drill=drill).exists()
    assert not hasattr(drill, "canary") or drill.canary is None


@pytest.fixture
def tabletop(db, import_yaml, orders_db, coordinator):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), tabletop_runbook_yaml(), region_lost_scenario_yaml())
    scenario = ScenarioVersion.objects.get(scenario__slug="region-lost")
    return start_tabletop(runbook_version=version_of("demo-orders-tabletop"), user=coordinator, scenario_version=scenario)


def test_items_are_done_skipped_or_blocked_with_who_when_a_note_and_an_estimate(tabletop, coordinator):
    pat = user_with_role("pat", Role.PARTICIPANT.value)
    mark_item(step_run=item(tabletop, 1), user=pat, outcome="done", note="Posted in #incident", estimated_minutes=5)
    with pytest.raises(TabletopRefused, match="what blocked"):
        mark_item(step_run=item(tabletop, 3), user=pat, outcome="blocked")
    mark_item(step_run=item(tabletop, 3), user=pat, outcome="blocked", note="Nobody has the backup bucket's key")
    mark_item(step_run=item(tabletop, 2), user=pat, outcome="skipped", note="Declared in the kickoff")

    done, blocked = item(tabletop, 1), item(tabletop, 3)
    assert (done.status, done.acted_by, done.note, done.estimated_minutes) == ("succeeded", pat, "Posted in #incident", 5)
    assert done.finished_at is not None and done.started_at is None
    assert blocked.status == StepRun.Status.BLOCKED and blocked.note.startswith("Nobody has")
    kinds = list(tabletop.events.values_list("kind", flat=True))
    assert kinds[:1] == ["tabletop.started"] and "tabletop.item_blocked" in kinds and "tabletop.item_skipped" in kinds

    viewer = user_with_role("vera", Role.VIEWER.value)
    with pytest.raises(PermissionDenied):
        mark_item(step_run=item(tabletop, 4), user=viewer, outcome="done")


def test_the_engine_services_refuse_a_tabletop_item(tabletop, coordinator):
    """Confirming or skipping through the live drill's buttons would set marks and let the engine
    measure button clicks: they are refused for a tabletop."""
    with pytest.raises(DrillActionRefused):
        confirm_step(step_run=item(tabletop, 2), user=coordinator)
    with pytest.raises(DrillActionRefused):
        skip_step(step_run=item(tabletop, 2), user=coordinator, reason="no")
    assert item(tabletop, 2).marks == {}


def test_estimates_add_up_and_the_summary_carries_no_achieved_figure(tabletop, coordinator):
    for position, minutes in ((1, 5), (2, 1), (3, 40), (4, 15)):
        mark_item(step_run=item(tabletop, position), user=coordinator, outcome="done", estimated_minutes=minutes)
    summary = drill_summary(Drill.objects.get(pk=tabletop.pk))
    # "Declare the disaster" marks outage_start, "Verify the application" service_restored: the
    # recovery estimate is what lies between them.
    assert summary["estimates"]["total_minutes"] == 61 and summary["estimates"]["recovery_minutes"] == 55
    assert summary["mode"] == "tabletop"
    assert not any(key.startswith(("rto", "rpo")) for key in summary) and "figures" not in summary


def test_aborting_a_tabletop_after_the_disaster_was_declared_warns_of_nothing(tabletop, coordinator):
    mark_item(step_run=item(tabletop, 2), user=coordinator, outcome="done")  # "Declare the disaster"
    abort_drill(drill=tabletop, user=coordinator, reason="fire drill in the building")
    tabletop.refresh_from_db()
    assert tabletop.status == Drill.Status.ABORTED
    assert "may still be down" not in tabletop.outcome
    assert not tabletop.events.filter(kind=EventKind.DRILL_OUTAGE_LEFT_OPEN).exists()
    assert tabletop.events.get(kind=EventKind.DRILL_ABORTED).message.startswith("Tabletop aborted")
    assert AuditEntry.objects.get(action="drill.aborted").summary.startswith("aborted the tabletop")


def test_audit_entries_and_the_timeline_name_it_a_tabletop(tabletop, coordinator):
    started = AuditEntry.objects.get(action="tabletop.started")
    assert started.summary.startswith("started a tabletop of demo-orders-tabletop v1")
    assert "live drill" not in started.summary
    assert tabletop.events.get(kind=EventKind.TABLETOP_STARTED).message.startswith("Tabletop of")


def test_metrics_count_tabletops_as_tabletops(tabletop, coordinator, monkeypatch):
    from tests.observability.test_observability import TOKEN, sample, scrape

    monkeypatch.setenv("DRDRILL_METRICS_TOKEN", TOKEN)
    text = scrape(Client())
    assert sample(text, "drdrill_drills", status="walking", mode="tabletop") == 1
    assert sample(text, "drdrill_drills", mode="live") == 0
    assert "drdrill_measured_seconds{" not in text


def test_an_inject_is_released_once_by_the_facilitator_or_when_its_time_comes(tabletop, coordinator):
    release_inject(drill=tabletop, user=coordinator, key="status-page")
    with pytest.raises(TabletopRefused, match="already released"):
        release_inject(drill=tabletop, user=coordinator, key="status-page")
    with pytest.raises(TabletopRefused, match="no inject"):
        release_inject(drill=tabletop, user=coordinator, key="meteor")

    assert release_due_injects(Drill.objects.get(pk=tabletop.pk)) == 0  # T+30 min has not come
    Drill.objects.filter(pk=tabletop.pk).update(started_at=tabletop.started_at - timedelta(minutes=31))
    assert release_due_injects(Drill.objects.get(pk=tabletop.pk)) == 1
    assert release_due_injects(Drill.objects.get(pk=tabletop.pk)) == 0
    released = tabletop.events.filter(kind=EventKind.TABLETOP_INJECT_RELEASED).order_by("at", "id")
    assert [e.data["inject"] for e in released] == ["status-page", "dba-away"]
    assert "Nobody who knows the restore" in released[1].message

    participant = user_with_role("pat", Role.PARTICIPANT.value)
    with pytest.raises(PermissionDenied):
        release_inject(drill=tabletop, user=participant, key="dba-away")


def test_the_page_shows_who_is_present_and_answers_204_until_someone_changes_something(tabletop, coordinator):
    pat, sam = (user_with_role(name, Role.PARTICIPANT.value) for name in ("pat", "sam"))
    first, second = Client(), Client()
    first.force_login(pat)
    second.force_login(sam)
    url = f"/drills/{tabletop.pk}/walkthrough/"
    first.get(url, headers={"HX-Request": "true"})
    page = second.get(url, headers={"HX-Request": "true"})
    body = page.content.decode()
    assert 'data-user="pat"' in body and 'data-user="sam"' in body
    seen = body.split("?seen=")[1].split('"')[0].split("&")[0]
    assert second.get(f"{url}?seen={seen}", headers={"HX-Request": "true"}).status_code == 204

    first.post(f"/drills/{tabletop.pk}/items/1/mark/", {"outcome": "done", "note": "told them", "estimated_minutes": "3"},
               headers={"HX-Request": "true"})
    changed = second.get(f"{url}?seen={seen}", headers={"HX-Request": "true"})
    assert changed.status_code == 200 and "told them" in changed.content.decode()

    Presence.objects.filter(user=pat).update(seen_at=tabletop.started_at - timedelta(minutes=5))
    assert 'data-user="pat"' not in second.get(url, headers={"HX-Request": "true"}).content.decode()


def test_the_runbook_page_starts_a_tabletop_with_a_scenario(db, client, import_yaml, orders_db, coordinator):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), backup_restore_runbook_yaml(), region_lost_scenario_yaml())
    client.force_login(coordinator)
    page = client.get("/runbooks/demo-orders-backup-restore/").content.decode()
    assert "Start tabletop" in page and "Primary region lost" in page and "Start live drill" in page
    assert "deletes the database file" in page  # what the step would do, in words
    scenario = ScenarioVersion.objects.get()
    response = client.post("/runbooks/demo-orders-backup-restore/start/", {"mode": "tabletop", "scenario": scenario.pk})
    drill = Drill.objects.get()
    assert response["Location"] == f"/drills/{drill.pk}/"
    assert drill.is_tabletop and drill.scenario_version == scenario
    page = client.get(f"/drills/{drill.pk}/").content.decode()
    assert "sqlite.fault</code> would: deletes the database file" in page
    assert "Achieved" not in page and "MET" not in page
