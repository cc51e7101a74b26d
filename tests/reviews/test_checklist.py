"""The DR test checklist on every drill: copied from an editable template that starts as the
handbook's ten items; a live drill's measurements tick "Measure RTO" and "Measure RPO" themselves
with a link to their evidence; a person ticks the rest or marks one not applicable with a reason."""

from __future__ import annotations

import pytest
from django.test import Client

from drills.models import Drill
from reviews.models import ChecklistItem, ChecklistTemplateItem
from reviews.services import ReviewRefused, tick_checklist_item, update_template_item
from tests.support.scenarios import backup_restore_runbook_yaml, orders_system_yaml
from tests.support.waiting import wait_for_drill

HANDBOOK = ["Notify stakeholders of the DR test", "Document the current state (baseline)", "Initiate the failover procedure",
            "Verify application functionality", "Test data integrity", "Measure RTO (time to restore)",
            "Measure RPO (data loss)", "Perform failback", "Document lessons learned", "Update the DR runbooks"]


@pytest.mark.worker
def test_a_live_drill_ticks_measure_rto_and_rpo_itself_linking_the_evidence(worker, client: Client, import_yaml, orders_db,
                                                                            orders_service, coordinator):
    import_yaml(orders_system_yaml(orders_db, orders_service), backup_restore_runbook_yaml())
    client.force_login(coordinator)
    client.post("/runbooks/demo-orders-backup-restore/start/", {"mode": "live", "confirmed": "1"})
    drill = wait_for_drill(Drill.objects.get(), timeout=90)
    assert drill.status == Drill.Status.SUCCEEDED

    assert list(ChecklistItem.objects.filter(drill=drill).values_list("title", flat=True)) == HANDBOOK
    panel = client.get(f"/reviews/drills/{drill.pk}/").content.decode()
    rto_row = panel.split('id="check-6"')[1].split("</tr>")[0]
    rpo_row = panel.split('id="check-7"')[1].split("</tr>")[0]
    for row, kind in ((rto_row, "rto"), (rpo_row, "rpo")):
        assert 'data-state="done"' in row and 'data-proven="1"' in row and "Done (proven)" in row
        assert f'href="/drills/{drill.pk}/#evidence-{kind}"' in row
    assert "measured (" in rto_row and "±" in rto_row
    assert 'data-state="open"' in panel.split('id="check-1"')[1].split("</tr>")[0]
    drill_page = client.get(f"/drills/{drill.pk}/").content.decode()
    assert 'id="evidence-rto"' in drill_page and 'id="evidence-rpo"' in drill_page

    rto_item = ChecklistItem.objects.get(drill=drill, position=6)
    with pytest.raises(ReviewRefused, match="ticked by the drill's measurement"):
        tick_checklist_item(item=rto_item, user=coordinator, state="done")


@pytest.mark.django_db
def test_a_person_ticks_items_and_marks_one_not_applicable_with_a_reason(client: Client, import_yaml, orders_db, coordinator,
                                                                         start_drill):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), backup_restore_runbook_yaml())
    drill = start_drill("demo-orders-backup-restore", mode="tabletop")
    client.force_login(coordinator)
    url = f"/reviews/drills/{drill.pk}/checklist/"
    client.post(f"{url}1/", {"state": "done", "note": "Mail sent 09:00"})
    refused = client.post(f"{url}8/", {"state": "not_applicable"}, headers={"HX-Request": "true"})
    assert "Say why “Perform failback” does not apply" in refused.content.decode()
    client.post(f"{url}8/", {"state": "not_applicable", "note": "No failback in a tabletop"})
    refused = client.post(f"{url}6/", {"state": "done"}, headers={"HX-Request": "true"})
    assert "only a live drill measures it" in refused.content.decode()

    states = dict(ChecklistItem.objects.filter(drill=drill).values_list("position", "state"))
    assert states[1] == "done" and states[8] == "not_applicable" and states[6] == "open"
    item = ChecklistItem.objects.get(drill=drill, position=1)
    assert item.ticked_by == coordinator and item.note == "Mail sent 09:00"


@pytest.mark.django_db
def test_the_template_is_edited_for_drills_started_afterwards(import_yaml, orders_db, coordinator, start_drill,
                                                               django_capture_on_commit_callbacks):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), backup_restore_runbook_yaml())
    with django_capture_on_commit_callbacks(execute=True):  # the checklist is copied when the start commits
        before = start_drill("demo-orders-backup-restore", mode="tabletop")
    failback = ChecklistTemplateItem.objects.get(evidence="failback")
    update_template_item(item=failback, user=coordinator, title=failback.title, evidence="failback", active=False)
    with django_capture_on_commit_callbacks(execute=True):
        after = start_drill("demo-orders-backup-restore", mode="tabletop")
    assert ChecklistItem.objects.filter(drill=before).count() == 10
    assert ChecklistItem.objects.filter(drill=after).count() == 9
    assert not ChecklistItem.objects.filter(drill=after, title__startswith="Perform failback").exists()
