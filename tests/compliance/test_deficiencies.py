"""A deficiency's action item stays open after its owner marks it done, until a later drill's
evidence verifies the fix (found by itself: the same figure now within its target) and a second
person confirms it. A deficiency of high severity or worse is reported to management, and an
approver acknowledges it with a comment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from programme.action_items import action_items_summary
from programme.quarters import Quarter
from reviews.models import ActionItem
from reviews.selectors import open_action_items
from reviews.services import (
    ActionDraft,
    ReviewRefused,
    acknowledge_deficiency,
    add_action_item,
    confirm_deficiency_fixed,
    record_lesson,
    set_action_status,
)
from runbooks.models import DrillKind
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_system
from tests.support.roles import user_with_role

pytestmark = pytest.mark.django_db


def test_a_deficiency_closes_only_on_a_later_drills_evidence_and_a_second_persons_word(client: Client):
    orders = make_system("orders", tier=1, rto=600, rpo=60)
    start = timezone.now() - timedelta(days=30)
    found = drill_with_evidence(orders, DrillKind.BACKUP_RESTORE, start, rto=1500, rpo=30)
    owner = user_with_role("olga", "participant")
    reviewer = user_with_role("rita", "reviewer")
    lesson = record_lesson(drill=found, user=owner, title="The restore missed its RTO", what_happened="25 minutes",
                           action=ActionDraft("Pre-warm the restore host", "olga", timezone.localdate() + timedelta(days=14),
                                              severity="high", figure="rto"))
    item = lesson.action_items.get()
    assert item.is_deficiency
    ActionItem.objects.filter(pk=item.pk).update(created_at=start + timedelta(hours=1))  # opened after that drill
    item.refresh_from_db()

    approver = user_with_role("alex", "approver")
    assert item.reported_to_management
    with pytest.raises(PermissionDenied):
        acknowledge_deficiency(item=item, user=reviewer, comment="Seen")
    with pytest.raises(ReviewRefused, match="Say what management decided"):
        acknowledge_deficiency(item=item, user=approver, comment=" ")
    acknowledge_deficiency(item=item, user=approver, comment="Budget approved for a warm restore host")
    item.refresh_from_db()
    assert item.management_acknowledged_by == approver and AuditEntry.objects.filter(action="action_item.acknowledged").exists()
    minor = add_action_item(lesson=lesson, user=owner, draft=ActionDraft("Rename the runbook", "olga",
                                                                          timezone.localdate(), severity="low"))
    with pytest.raises(ReviewRefused, match="not reported to management"):
        acknowledge_deficiency(item=minor, user=approver, comment="Seen")

    with pytest.raises(ReviewRefused, match="closes only when a later drill verifies the fix"):
        set_action_status(item=item, user=owner, status="wont_do")
    set_action_status(item=item, user=owner, status="done")
    item.refresh_from_db()
    assert item.status == ActionItem.Status.AWAITING_VERIFICATION and item.is_open and item.closed_at is None
    assert item in open_action_items(system=orders)
    quarter = Quarter.of(timezone.now())
    [still_open] = [i for i in action_items_summary(quarter).open_items if i.title == "Pre-warm the restore host"]
    assert still_open.status == "Fixed, awaiting verification by a re-test" and still_open.severity == "High"

    with pytest.raises(PermissionDenied):
        confirm_deficiency_fixed(item=item, user=owner)
    with pytest.raises(ReviewRefused, match="verifies the fix \\(a live drill whose RTO is within its target\\)"):
        confirm_deficiency_fixed(item=item, user=reviewer)
    drill_with_evidence(orders, DrillKind.BACKUP_RESTORE, timezone.now() - timedelta(days=2), rto=900, rpo=30)
    with pytest.raises(ReviewRefused, match="No drill of Orders"):
        confirm_deficiency_fixed(item=item, user=reviewer)  # the re-test missed its RTO again
    # The owner who marked it fixed cannot be the second person, whatever roles they hold.
    owner.groups.add(reviewer.groups.get())
    owner.__dict__.pop("_drdrill_roles", None)
    retest = drill_with_evidence(orders, DrillKind.BACKUP_RESTORE, timezone.now() - timedelta(days=1), rto=420, rpo=30)
    with pytest.raises(ReviewRefused, match="a second person confirms it"):
        confirm_deficiency_fixed(item=item, user=owner)
    item.refresh_from_db()
    assert item.status == ActionItem.Status.AWAITING_VERIFICATION

    client.force_login(reviewer)
    page = client.get("/reviews/actions/").content.decode()
    assert "Confirm fixed by the re-test" in page and "High deficiency" in page
    client.post(f"/reviews/actions/{item.pk}/confirm/")
    item.refresh_from_db()
    assert item.status == ActionItem.Status.DONE and item.verified_by_drill == retest and item.confirmed_by == reviewer
    assert item.closed_at is not None and item not in open_action_items(system=orders)
    assert "Pre-warm the restore host" not in {i.title for i in action_items_summary(quarter).open_items}
    verified = AuditEntry.objects.get(action="action_item.verified")
    assert verified.actor_name == "rita" and verified.after["verified_by_drill"] == retest.pk
