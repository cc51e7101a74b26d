"""Beat writes an anchor of the audit trail every DRDRILL_AUDIT_ANCHOR_MINUTES (docs/security.md)."""

from __future__ import annotations

from celery import shared_task

from .anchors import write_anchor


@shared_task(name="audit.tasks.anchor_audit_trail")
def anchor_audit_trail() -> int | None:
    anchor = write_anchor()
    return anchor["entry"] if anchor else None
