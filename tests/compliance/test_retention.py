"""Drill records are kept for the retention period (six years unless set): deleting a drill inside
it is refused with the date it is kept until, changes nothing, and the attempt is audited; the
admin or a shell cannot go around it. After the period the drill can go, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry
from compliance.retention import RetentionRefused, delete_drill
from drills.models import Drill
from runbooks.models import DrillKind
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_system

pytestmark = pytest.mark.django_db


def test_deleting_a_drill_inside_the_retention_period_is_refused_and_audited(coordinator, settings):
    system = make_system("orders")
    now = timezone.now()
    recent = drill_with_evidence(system, DrillKind.BACKUP_RESTORE, now - timedelta(days=5 * 365), rto=60, rpo=6)
    old = drill_with_evidence(system, DrillKind.BACKUP_RESTORE, now - timedelta(days=6 * 365 + 10), rto=60, rpo=6)

    with pytest.raises(RetentionRefused, match=rf"Drill #{recent.pk} is kept until \d{{4}}-\d\d-\d\d: drill records are "
                                               r"retained for 6 years \(DRDRILL_RETENTION_YEARS\). Nothing was deleted."):
        delete_drill(drill=recent, user=coordinator)
    assert Drill.objects.filter(pk=recent.pk).exists() and recent.measurements.count() == 2
    refused = AuditEntry.objects.get(action="drill.delete_refused")
    assert refused.drill_id == recent.pk and refused.actor_name == "casey" and "kept until" in refused.summary
    with pytest.raises(RetentionRefused), transaction.atomic():
        recent.delete()  # the admin's and a shell's path
    assert Drill.objects.filter(pk=recent.pk).exists()

    old_id = old.pk
    delete_drill(drill=old, user=coordinator)
    assert not Drill.objects.filter(pk=old_id).exists()
    assert AuditEntry.objects.get(action="drill.deleted").drill_id == old_id

    settings.DRDRILL_RETENTION_YEARS = 4
    delete_drill(drill=recent, user=coordinator)
    assert not Drill.objects.filter(pk=recent.pk).exists()
