"""Retention: a drill's records (its report, evidence, timeline and the audit entries about it) are
kept for ``DRDRILL_RETENTION_YEARS`` (six unless set: HIPAA's six years, beyond DORA's five). Deleting
a drill before then is refused, and the refusal is audited.

Two locks: ``delete_drill`` refuses with a message and an audit entry, and a ``pre_delete`` guard
refuses every other path (the admin, a shell) that would delete a drill too early. Generated sample
drills (the demo estate) are not records of anything and may go at any time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.roles import Capability, check
from audit.services import record
from drills.models import Drill


class RetentionRefused(Exception):
    """Deleting the drill now would break the retention period; the message says until when."""


def retained_until(drill: Drill) -> datetime:
    start = drill.finished_at or drill.started_at or drill.created_at
    years = settings.DRDRILL_RETENTION_YEARS
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def retention_refusal(drill: Drill, *, now: datetime | None = None) -> str | None:
    """Why the drill may not be deleted now, or None."""
    if drill.sample:
        return None
    until = retained_until(drill)
    if (now or timezone.now()) < until:
        return (f"Drill #{drill.pk} is kept until {until:%Y-%m-%d}: drill records are retained for "
                f"{settings.DRDRILL_RETENTION_YEARS} years (DRDRILL_RETENTION_YEARS). Nothing was deleted.")
    return None


def delete_drill(*, drill: Drill, user: Any) -> None:
    """Delete a drill whose retention period is over; refuse (and audit the attempt) inside it."""
    check(user, Capability.ADMINISTER, "delete drills")
    refusal = retention_refusal(drill)
    if refusal:
        record("drill.delete_refused", actor=user, obj=drill, drill_id=drill.pk,
               after={"retained_until": retained_until(drill).isoformat()}, summary=f"tried to delete drill #{drill.pk}: {refusal}")
        raise RetentionRefused(refusal)
    try:
        with transaction.atomic():
            record("drill.deleted", actor=user, obj=drill, drill_id=drill.pk,
                   before={"system": drill.system.slug, "finished_at": drill.finished_at},
                   summary=f"deleted drill #{drill.pk} after its retention period")
            drill.delete()
    except ProtectedError as error:
        kinds = sorted({type(o).__name__ for o in error.protected_objects})
        raise RetentionRefused(f"Drill #{drill.pk} still has {', '.join(kinds)} records pointing at it; "
                               "delete or archive those first. Nothing was deleted.") from None


@receiver(pre_delete, sender=Drill, dispatch_uid="compliance.retention.guard")
def refuse_early_deletion(sender: type[Drill], instance: Drill, **kwargs: Any) -> None:
    refusal = retention_refusal(instance)
    if refusal:
        raise RetentionRefused(refusal)
