"""The worker policy for Azure, in a dry-run's plan() and a live run(): a subscription the worker's
policy does not list is refused with the rule named, and not one request reaches the cloud (the ARM
fake). The allowed rows are this family's other tests, which run under the same policy
(tests/support/workers.py)."""

from __future__ import annotations

import pytest

from drills.models import Drill
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

AZURE = """
systems:
  - slug: elsewhere-sql
    name: Another tenant's SQL
    environment: staging
    tier: 1
    targets:
      fog:
        kind: azure-sql-failover-group
        subscription_id: 11111111-2222-3333-4444-555555555555
        resource_group: orders-rg
        server: orders-sql-weu
        location: westeurope
        partner_server: orders-sql-neu
        partner_location: northeurope
        failover_group: orders-fog
runbooks:
  - slug: elsewhere-sql-failover
    title: Fail over someone else's group
    system: elsewhere-sql
    kind: full_failover
    steps:
      - name: Fail the group over
        action: azure.sql.failover_group
        params: {target: fog, to_server: orders-sql-neu}
"""



@pytest.mark.parametrize("mode", ["dry_run", "live"])
def test_an_azure_subscription_outside_the_policy_is_refused_before_any_request(azure_worker, import_yaml,
                                                                                start_drill, arm, mode):
    import_yaml(AZURE)
    requests_before = len(arm.requests)
    drill = wait_for_drill(start_drill("elsewhere-sql-failover", mode=mode))
    assert drill.status == Drill.Status.FAILED
    assert "azure account 11111111-2222-3333-4444-555555555555 is not allowed" in drill.step_runs.get().error
    assert len(arm.requests) == requests_before and arm.started == []
