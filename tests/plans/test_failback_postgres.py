"""Failback linked to its failover on real PostgreSQL: the failover drill crashes pg1 and promotes
pg2; the shop takes orders on pg2; *Start failback* on the failover's page runs the failback runbook
linked both ways. The failback's own steps verify the data came back — postgres.baseline counts and
checksums the orders on the secondary before anything moves, postgres.verify compares the restored
primary with it — and the rows written on pg2 are on pg1, read directly."""

from __future__ import annotations

import pytest
from django.test import Client

from drills.models import Drill
from tests.support.pg_cluster import ORDERS_ROWS, example, service_binding, shop_db_system
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

# The canary needs only a few rows before each outage here: the RPO itself is tested beside the actions.
SHORTER_WAIT = {"params: {seconds: 2}": "params: {seconds: 1}"}
WRITTEN_ON_SECONDARY = 5


def test_a_failback_from_its_failover_brings_the_rows_written_on_the_secondary_back_to_the_primary(
        worker, import_yaml, start_drill, coordinator, sandbox):
    pg1 = sandbox.primary("pg1")
    pg2 = sandbox.standby_of(pg1, "pg2")
    import_yaml(shop_db_system(pg1=pg1.binding(), pg2=pg2.binding(), db=service_binding(pg1, pg2)),
                example("ha-failover.yaml", **SHORTER_WAIT), example("failback.yaml", **SHORTER_WAIT))
    failover = wait_for_drill(start_drill("shop-db-failover"), timeout=90)
    assert failover.status == Drill.Status.SUCCEEDED, failover.outcome
    assert not pg1.running() and not pg2.in_recovery()

    # The shop runs on the secondary and takes orders there.
    with pg2.connect() as conn:
        conn.execute("INSERT INTO orders SELECT g, 'taken on pg2 after the failover: ' || g "
                     "FROM generate_series(%s::integer, %s::integer) g", (ORDERS_ROWS + 1, ORDERS_ROWS + WRITTEN_ON_SECONDARY))
    taken_on_secondary = pg2.query("SELECT id, note FROM orders WHERE id > %s ORDER BY id", (ORDERS_ROWS,))
    assert len(taken_on_secondary) == WRITTEN_ON_SECONDARY

    client = Client()
    client.force_login(coordinator)
    response = client.post(f"/plans/for-drill/{failover.pk}/failback/",
                           {"runbook": "shop-db-failback", "mode": "live"})
    failback = Drill.objects.exclude(pk=failover.pk).get()
    assert response["Location"] == failback.get_absolute_url()
    failback = wait_for_drill(failback, timeout=120)
    assert failback.status == Drill.Status.SUCCEEDED, failback.outcome

    # Linked both ways.
    assert failback.failback_link.failover == failover
    assert [link.failback for link in failover.failback_links.all()] == [failback]

    # pg1 is the primary again and holds every order taken on pg2, read directly from it.
    assert pg1.running() and not pg1.in_recovery() and pg2.in_recovery()
    assert pg1.query("SELECT id, note FROM orders WHERE id > %s ORDER BY id", (ORDERS_ROWS,)) == taken_on_secondary

    # The drill verified it itself: the baseline was taken on the secondary with those rows, and the
    # verification on the restored primary matched it, count and checksum.
    steps = {s.step.key: s for s in failback.step_runs.select_related("step")}
    baseline = steps["baseline"].evidence["tables"]["public.orders"]
    verified = steps["verify"].evidence["tables"]["public.orders"]
    assert baseline["rows"] == ORDERS_ROWS + WRITTEN_ON_SECONDARY
    assert verified["rows"] == baseline["rows"] and verified["checksum"] == baseline["checksum"]
    assert verified["matches"] is True

    # Both drill pages show the pair and the data carried back.
    for drill in (failover, failback):
        shown = client.get(f"/plans/for-drill/{drill.pk}/").content.decode()
        assert f'href="/drills/{failover.pk}/" id="failover-link"' in shown
        assert f'href="/drills/{failback.pk}/" id="failback-link"' in shown
        assert 'data-table="public.orders" data-verified="yes"' in shown
        assert (f"+{WRITTEN_ON_SECONDARY} rows ({ORDERS_ROWS} after the failover, "
                f"{ORDERS_ROWS + WRITTEN_ON_SECONDARY} when the failback began)") in shown
        assert f"verified on the restored primary ({ORDERS_ROWS + WRITTEN_ON_SECONDARY} rows" in shown
