"""Signing off the post-drill report, and keeping a signed-off report frozen.

A reviewer (the reviewer role: a system owner, internal audit) signs the report off with a comment;
that stores the document as it stood, byte for byte, with its SHA-256 digest (revision 1). From then
on the report is frozen: when anything it says changes (a checklist tick, a lesson, an action item),
a new revision is stored with its own digest and an audit entry, and that revision awaits its own
sign-off. The sign-off section itself is not part of the digested document, so signing changes
nothing the digest covers."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.roles import Capability, check
from audit.services import record
from drills.models import Drill

from .models import ReportRevision
from .refusals import ReviewRefused
from .report import drill_report, report_document


def report_snapshot(drill_id: int) -> tuple[str, str]:
    """The report document as a revision stores it (no sign-off section), and its SHA-256."""
    content = report_document(drill_report(drill_id), for_revision=True)
    return content, hashlib.sha256(content.encode()).hexdigest()


def sign_off_report(*, drill: Drill, user: Any, comment: str) -> ReportRevision:
    check(user, Capability.SIGN_OFF, "sign off post-drill reports")
    comment = comment.strip()
    if not comment:
        raise ReviewRefused("Say what you checked in a comment: the sign-off is recorded with it.")
    if not drill.is_finished:
        raise ReviewRefused(f"Drill #{drill.pk} is still {drill.get_status_display().lower()}: sign off its report "
                            "once it has ended.")
    with transaction.atomic():
        content, digest = report_snapshot(drill.pk)
        latest = ReportRevision.objects.select_for_update().filter(drill=drill).order_by("-number").first()
        if latest is not None and latest.sha256 == digest and latest.is_signed_off:
            raise ReviewRefused(f"Revision {latest.number} of this report was signed off by {latest.signed_off_by} "
                                f"on {latest.signed_off_at:%Y-%m-%d %H:%M}, and nothing has changed since.")
        if latest is None or latest.sha256 != digest:
            latest = ReportRevision.objects.create(drill=drill, number=(latest.number + 1) if latest else 1,
                                                   content=content, sha256=digest, created_by=user,
                                                   reason="signed off")
        now = timezone.now()
        ReportRevision.objects.filter(pk=latest.pk).update(signed_off_by=user, signed_off_at=now, sign_off_comment=comment)
        latest.refresh_from_db()
        record("report.signed_off", actor=user, obj=latest, drill_id=drill.pk,
               after={"revision": latest.number, "sha256": digest, "comment": comment},
               summary=f"signed off revision {latest.number} of the post-drill report (sha256 {digest[:12]}…)")
    return latest


def revise_if_signed_off(*, drill_id: int, user: Any, reason: str) -> ReportRevision | None:
    """After a change to what the report says: a new revision when the report was signed off and its
    document is no longer the latest revision's. Call inside the change's transaction."""
    if not ReportRevision.objects.filter(drill_id=drill_id, signed_off_at__isnull=False).exists():
        return None
    latest = ReportRevision.objects.select_for_update().filter(drill_id=drill_id).order_by("-number").first()
    content, digest = report_snapshot(drill_id)
    if latest is None or latest.sha256 == digest:
        return None
    revision = ReportRevision.objects.create(drill_id=drill_id, number=latest.number + 1, content=content,
                                             sha256=digest, created_by=user, reason=reason[:300])
    record("report.revised", actor=user, obj=revision, drill_id=drill_id,
           before={"revision": latest.number, "sha256": latest.sha256},
           after={"revision": revision.number, "sha256": digest, "reason": reason},
           summary=f"the signed-off post-drill report changed ({reason}): revision {revision.number}, "
                   f"sha256 {digest[:12]}…, awaits sign-off")
    return revision


def revisions_of(drill_id: int) -> list[ReportRevision]:
    return list(ReportRevision.objects.filter(drill_id=drill_id).select_related("signed_off_by", "created_by")
                .order_by("number"))
