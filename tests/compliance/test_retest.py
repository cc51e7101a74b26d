"""A substantive change makes a re-test due (DORA Art. 11(6)): a new version of a recovery runbook
since its last live drill, or new RTO/RPO targets for its system; a drill of the new version against
the new targets clears it. Shown with the cadence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from compliance.retest import retests_due
from drills.models import Drill
from runbooks.models import DrillKind
from tests.compliance.factories import drill_with_evidence
from tests.programme.factories import make_runbook, make_system

pytestmark = pytest.mark.django_db


def pinned(drill: Drill, rto: int, rpo: int) -> None:
    Drill.objects.filter(pk=drill.pk).update(snapshot={"rto_target_seconds": rto, "rpo_target_seconds": rpo})


def test_a_new_runbook_version_or_new_targets_make_a_retest_due(client: Client, coordinator):
    orders = make_system("orders", tier=1, rto=600, rpo=60)
    first = drill_with_evidence(orders, DrillKind.BACKUP_RESTORE, timezone.now() - timedelta(days=10), rto=100, rpo=10)
    pinned(first, 600, 60)
    assert retests_due() == []

    make_runbook(orders, "backup_restore", steps=[{"name": "Restore", "action": "wait", "params": {"seconds": 2}}])
    [due] = retests_due()
    assert due.system == orders and due.reason == f"version 2 since the last drill (#{first.pk}, version 1)"
    client.force_login(coordinator)
    page = client.get("/programme/cadence/").content.decode()
    assert "Re-test due after a substantive change" in page and f"version 2 since the last drill (#{first.pk}" in page

    second = drill_with_evidence(orders, DrillKind.BACKUP_RESTORE, timezone.now() - timedelta(hours=1), rto=100, rpo=10)
    pinned(second, 600, 60)
    assert second.runbook_version.number == 2 and retests_due() == []

    make_system("orders", tier=1, rto=900, rpo=60)
    [due] = retests_due()
    assert due.reason == f"RTO target 10 m 00 s → 15 m 00 s since the last drill (#{second.pk})"
