"""Failback linked to its failover: after a failover drill succeeded, its page offers the system's
failback runbooks (and no other); the failback started from it is linked both ways, and both pages
show the pair with the time the service ran on the secondary. A runbook that is not a failback, or a
failover that did not succeed, is refused with its reason and links nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from drills.models import Drill
from drills.services import DrillActionRefused
from plans.failback import start_failback
from plans.models import FailbackLink
from runbooks.models import Runbook
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

ESTATE = """
systems:
  - {slug: shop, name: Shop, environment: staging, tier: 1}
runbooks:
  - slug: shop-failover
    title: Fail the shop over to the secondary
    system: shop
    kind: full_failover
    steps:
      - {name: Stop the primary, action: wait, params: {seconds: 0.2}, marks: [outage_start]}
      - {name: Promote the secondary, action: wait, params: {seconds: 0.2}, marks: [service_restored]}
  - slug: shop-failback
    title: Fail the shop back to the primary
    system: shop
    kind: full_failover
    steps:
      - {name: Sync the data to the primary, action: wait, params: {seconds: 0.3}}
      - {name: Switch traffic back, action: wait, params: {seconds: 0.2}, marks: [outage_start, service_restored]}
      - {name: Resume on the primary, action: wait, params: {seconds: 0.1}, marks: [failback_complete]}
  - slug: shop-backup
    title: Back the shop up
    system: shop
    kind: backup_restore
    steps:
      - {name: Back up, action: wait, params: {seconds: 0.1}}
"""


def panel(client: Client, drill: Drill) -> str:
    return client.get(f"/plans/for-drill/{drill.pk}/").content.decode()


def test_a_failback_started_from_its_failover_is_linked_both_ways(worker, import_yaml, start_drill, coordinator):
    import_yaml(ESTATE)
    client = Client()
    client.force_login(coordinator)
    failover = start_drill("shop-failover")
    # Not yet: a failback starts from a failover that succeeded.
    with pytest.raises(DrillActionRefused, match="not a succeeded failover"):
        start_failback(failover=failover, runbook=Runbook.objects.get(slug="shop-failback"), user=coordinator)
    failover = wait_for_drill(failover)
    assert failover.status == Drill.Status.SUCCEEDED

    offered = panel(client, failover)
    assert "Start failback" in offered and 'value="shop-failback"' in offered and "shop-backup" not in offered

    refused = client.post(f"/plans/for-drill/{failover.pk}/failback/", {"runbook": "shop-backup", "mode": "live"},
                          follow=True)
    assert "is not a failback runbook" in refused.content.decode()
    assert not FailbackLink.objects.exists() and Drill.objects.count() == 1

    response = client.post(f"/plans/for-drill/{failover.pk}/failback/", {"runbook": "shop-failback", "mode": "live"})
    failback = Drill.objects.exclude(pk=failover.pk).get()
    assert response["Location"] == failback.get_absolute_url()
    assert failback.failback_link.failover == failover and list(failover.failback_links.all()) == [failback.failback_link]
    failback = wait_for_drill(failback)
    assert failback.status == Drill.Status.SUCCEEDED

    for drill in (failover, failback):
        shown = panel(client, drill)
        assert f'href="/drills/{failover.pk}/" id="failover-link"' in shown
        assert f'href="/drills/{failback.pk}/" id="failback-link"' in shown
        assert "On the secondary: " in shown and "not known yet" not in shown
    # A failback is not a failover to fail back from.
    assert "Start failback" not in panel(client, failback)
    assert 'id="drill-plans"' in client.get(failback.get_absolute_url()).content.decode()
