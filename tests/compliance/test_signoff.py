"""Only the reviewer role signs a post-drill report off, with a comment; the signed-off revision is
stored byte for byte with its SHA-256; a later change to the report writes a new revision with its
own digest and an audit entry, and leaves the signed one as it was."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from reviews.models import ReportRevision
from reviews.services import ReviewRefused, record_lesson
from reviews.signoff import sign_off_report
from runbooks.models import DrillKind
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_system
from tests.reviews.test_report import flat, pdf_text
from tests.support.roles import user_with_role

pytestmark = pytest.mark.django_db


def test_only_a_reviewer_signs_off_and_a_signed_off_report_changes_only_by_a_new_revision(client: Client):
    drill = drill_with_evidence(make_system("orders", tier=2), DrillKind.BACKUP_RESTORE,
                                timezone.now() - timedelta(hours=3), rto=100, rpo=10)
    coordinator = user_with_role("cory", "coordinator")
    reviewer = user_with_role("rita", "reviewer")

    with pytest.raises(PermissionDenied, match="may not sign off post-drill reports: that takes the reviewer or admin role"):
        sign_off_report(drill=drill, user=coordinator, comment="Looks right")
    client.force_login(coordinator)
    assert client.post(f"/reviews/drills/{drill.pk}/report/sign-off/", {"comment": "Looks right"}).status_code == 403
    with pytest.raises(ReviewRefused, match="Say what you checked"):
        sign_off_report(drill=drill, user=reviewer, comment="  ")
    assert not ReportRevision.objects.exists()

    client.force_login(reviewer)
    response = client.post(f"/reviews/drills/{drill.pk}/report/sign-off/", {"comment": "Figures checked against the evidence pack"})
    assert response.status_code == 302
    [first] = ReportRevision.objects.all()
    assert first.number == 1 and first.signed_off_by == reviewer and first.sha256 == hashlib.sha256(first.content.encode()).hexdigest()
    assert "Figures checked" in first.sign_off_comment and "Controls supported" in first.content
    assert AuditEntry.objects.get(action="report.signed_off").after["sha256"] == first.sha256
    with pytest.raises(ReviewRefused, match="nothing has changed since"):
        sign_off_report(drill=drill, user=reviewer, comment="Again")

    # A change after the sign-off: the signed revision stays as it was, a new one awaits sign-off.
    record_lesson(drill=drill, user=coordinator, title="The restore target was undersized", what_happened="Disk full")
    first.refresh_from_db()
    assert hashlib.sha256(first.content.encode()).hexdigest() == first.sha256 and "undersized" not in first.content
    second = ReportRevision.objects.get(number=2)
    assert second.sha256 != first.sha256 and "undersized" in second.content and not second.is_signed_off
    revised = AuditEntry.objects.get(action="report.revised")
    assert revised.actor_name == "cory" and revised.after["sha256"] == second.sha256 and revised.before["revision"] == 1

    assert client.get(f"/reviews/drills/{drill.pk}/report/revisions/1/").content.decode() == first.content
    text = flat(pdf_text(client.get(f"/reviews/drills/{drill.pk}/report.pdf").content))
    assert f"Revision 1 · sha256 {first.sha256} · signed off by rita" in text
    assert f"Revision 2 · sha256 {second.sha256} · lesson “The restore target was undersized” recorded; awaits sign-off" in text
    sign_off_report(drill=drill, user=reviewer, comment="Lesson read")
    assert ReportRevision.objects.get(number=2).signed_off_by == reviewer
