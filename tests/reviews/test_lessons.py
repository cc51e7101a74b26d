"""Lessons learned and action items: a blocked tabletop item proposes a lesson; a lesson carries its
action items (owner, due date, status, what they fix); open and overdue ones show per system; one
that updates a runbook opens the editor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviews.models import ActionItem, Lesson
from tests.support.scenarios import backup_restore_runbook_yaml, orders_system_yaml, tabletop_runbook_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def walked(client: Client, import_yaml, orders_db, coordinator, start_drill):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), tabletop_runbook_yaml(), backup_restore_runbook_yaml())
    drill = start_drill("demo-orders-tabletop", mode="tabletop")
    client.force_login(coordinator)
    client.post(f"/drills/{drill.pk}/items/3/mark/", {"outcome": "blocked", "note": "Nobody has the backup bucket's key"})
    return drill


def test_a_blocked_item_becomes_a_lesson_with_an_action_item(client: Client, walked):
    panel = client.get(f"/reviews/drills/{walked.pk}/").content.decode()
    proposed = panel.split('id="proposed-3"')[1].split("</li>")[0]
    assert "Nobody has the backup bucket" in proposed and f"/reviews/drills/{walked.pk}/lessons/new/?step=3" in proposed

    form = client.get(f"/reviews/drills/{walked.pk}/lessons/new/?step=3").content.decode()
    assert "Nobody has the backup bucket" in form  # what happened, from the item's note
    due = (timezone.localdate() + timedelta(days=14)).isoformat()
    response = client.post(f"/reviews/drills/{walked.pk}/lessons/new/", {
        "step": "3", "title": "The restore needs a key nobody holds", "what_happened": "Blocked at step 3",
        "why": "The key lives in a departed engineer's vault", "action_title": "Put the key in the team vault",
        "owner": "Data platform team", "due_date": due, "runbook": walked.runbook_version.runbook_id,
        "step_key": "walk-through-the-restore-runbook"})
    assert response.status_code == 302
    lesson = Lesson.objects.get()
    assert lesson.step_run.position == 3
    action = lesson.action_items.get()
    assert (action.owner, action.status, action.fixes) == ("Data platform team", "open",
                                                           "step walk-through-the-restore-runbook of runbook demo-orders-tabletop")
    panel = client.get(f"/reviews/drills/{walked.pk}/").content.decode()
    assert 'id="proposed-3"' not in panel and "Put the key in the team vault" in panel
    assert "/runbooks/demo-orders-tabletop/edit/" in panel  # "Update the runbook" opens the editor


def test_an_action_item_needs_an_owner_and_a_due_date(client: Client, walked):
    response = client.post(f"/reviews/drills/{walked.pk}/lessons/new/", {
        "title": "Lesson", "what_happened": "x", "action_title": "Fix it"})
    assert response.status_code == 400 and "needs what to do, an owner and a due date" in response.content.decode()
    assert not Lesson.objects.exists()


def test_open_and_overdue_action_items_show_on_the_system_page(client: Client, walked, coordinator):
    from reviews.services import ActionDraft, record_lesson

    today = timezone.localdate()
    lesson = record_lesson(drill=walked, user=coordinator, title="Runbook unclear", what_happened="x",
                           action=ActionDraft("Rewrite step 3", "Ops", today - timedelta(days=2)))
    ActionItem.objects.create(lesson=lesson, title="Done already", owner="Ops", due_date=today - timedelta(days=9),
                              system=walked.system, status=ActionItem.Status.DONE)
    ActionItem.objects.create(lesson=lesson, title="Train the on-call", owner="Ops", due_date=today + timedelta(days=9),
                              system=walked.system)
    system_page = client.get("/systems/orders/").content.decode()
    assert 'hx-get="/reviews/actions/open/?system=orders"' in system_page
    partial = client.get("/reviews/actions/open/?system=orders").content.decode()
    assert "<strong>2</strong> open action items" in partial and "1 overdue" in partial
    assert "Rewrite step 3" in partial and "Train the on-call" in partial and "Done already" not in partial
    overdue = client.get("/reviews/actions/?status=overdue").content.decode()
    assert "Rewrite step 3" in overdue and "Train the on-call" not in overdue

    item = ActionItem.objects.get(title="Rewrite step 3")
    client.post(f"/reviews/actions/{item.pk}/status/", {"status": "done", "back": "list"})
    item.refresh_from_db()
    assert item.status == "done" and item.closed_at is not None
    assert "0 overdue" not in client.get("/reviews/actions/open/?system=orders").content.decode()
