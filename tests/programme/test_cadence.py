"""Cadence and overdue: a system is due one interval after its last drill of a kind held to its
end, due soon within 30 days of that, overdue past it; dry-runs never count, tabletops count only
as tabletops; a coordinator's cadence replaces the handbook's."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from django.core.management import call_command

from drills.models import Drill
from programme.cadence import DueStatus, add_months, cadence_status, due_items
from programme.models import Cadence
from tests.programme.factories import finished_drill, make_system

pytestmark = pytest.mark.django_db
TODAY = date(2026, 10, 15)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T10:00").replace(tzinfo=timezone.utc)


def status_of(system, kind: str, on: date = TODAY):
    return next(i for i in cadence_status(on=on) if i.system == system and i.kind == kind)


def test_due_one_interval_after_the_last_drill_held_then_due_soon_then_overdue():
    db = make_system("orders-db", tier=1)
    finished_drill(db, "full_failover", at("2025-11-01"), rto=600, rpo=60)
    item = status_of(db, "full_failover")
    assert item.due_on == date(2026, 11, 1) and item.status == DueStatus.DUE_SOON and item.days_left == 17
    assert status_of(db, "full_failover", on=date(2026, 9, 1)).status == DueStatus.OK
    late = status_of(db, "full_failover", on=date(2026, 11, 20))
    assert late.status == DueStatus.OVERDUE and late.days == 19


def test_monthly_backup_restore_and_a_failed_drill_still_counts_as_held():
    db = make_system("orders-db", tier=1)
    finished_drill(db, "backup_restore", at("2026-08-01"), status=Drill.Status.FAILED)
    assert status_of(db, "backup_restore").due_on == date(2026, 9, 1)
    assert status_of(db, "backup_restore").status == DueStatus.OVERDUE


def test_dry_runs_and_aborted_drills_do_not_count():
    db = make_system("orders-db", tier=1)
    finished_drill(db, "backup_restore", at("2026-10-10"), mode=Drill.Mode.DRY_RUN)
    finished_drill(db, "backup_restore", at("2026-10-11"), status=Drill.Status.ABORTED)
    finished_drill(db, "backup_restore", at("2026-08-01"))
    assert status_of(db, "backup_restore").last_held == at("2026-08-01")


def test_a_tabletop_mode_drill_counts_for_the_tabletop_cadence_only():
    db = make_system("orders-db", tier=1)
    finished_drill(db, "full_failover", at("2026-10-01"), mode="tabletop")
    assert status_of(db, "tabletop").last_held == at("2026-10-01")
    assert status_of(db, "full_failover").last_held is None


def test_a_system_never_drilled_is_due_one_interval_after_it_was_added():
    db = make_system("orders-db", tier=1)
    added = db.created_at.date()
    assert status_of(db, "backup_restore", on=added).due_on == add_months(added, 1)


def test_tier_4_has_no_failover_to_drill_and_a_coordinator_can_change_the_cadence():
    archive = make_system("archive", tier=4, rto=8 * 86400, rpo=2 * 86400)
    assert {i.kind for i in cadence_status(on=TODAY) if i.system == archive} == {"tabletop", "backup_restore"}
    Cadence.objects.create(tier=4, kind="backup_restore", interval_months=None)
    Cadence.objects.create(tier=4, kind="full_failover", interval_months=24)
    assert {i.kind for i in cadence_status(on=TODAY) if i.system == archive} == {"tabletop", "full_failover"}


def test_the_dashboard_list_leads_with_the_most_overdue(db):
    a = make_system("alpha", tier=0, rto=1800, rpo=300)
    b = make_system("beta", tier=2, rto=8 * 3600, rpo=3600)
    for system in (a, b):
        for kind in ("tabletop", "partial_failover", "full_failover"):
            finished_drill(system, kind, at("2026-10-01"))
    finished_drill(a, "backup_restore", at("2026-09-20"))   # due 2026-10-20: due soon
    finished_drill(b, "backup_restore", at("2026-06-01"))   # due 2026-07-01: overdue 106 days
    items = due_items(on=TODAY)
    assert [(i.system.slug, i.kind, i.status) for i in items] == [
        ("beta", "backup_restore", "overdue"), ("alpha", "backup_restore", "due_soon")]


def test_the_overdue_command_prints_json(capsys):
    import json

    b = make_system("beta", tier=2, rto=8 * 3600, rpo=3600)
    finished_drill(b, "backup_restore", datetime.now(timezone.utc).replace(year=2020))
    call_command("programme", "overdue", "--json")
    found = json.loads(capsys.readouterr().out)
    overdue = {(i["system"], i["kind"]) for i in found["overdue"]}
    assert ("beta", "backup_restore") in overdue
    assert all({"due_on", "days_overdue", "tier", "last_held"} <= set(i) for i in found["overdue"])
