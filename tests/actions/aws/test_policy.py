"""The worker policy for AWS, in a dry-run's plan() and a live run(): an account the worker's policy
does not list is refused with the rule named, and not one request reaches the cloud (moto behind its
recording proxy). The allowed rows are this family's other tests, which run under the same policy
(tests/support/workers.py)."""

from __future__ import annotations

import pytest

from drills.models import Drill
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

AWS = """
systems:
  - slug: elsewhere
    name: Another company's Aurora
    environment: staging
    tier: 1
    targets:
      orders: {kind: aws-rds-cluster, account: "999999999999", region: eu-west-1, cluster: orders-db}
runbooks:
  - slug: elsewhere-failover
    title: Fail over someone else's database
    system: elsewhere
    kind: partial_failover
    steps:
      - name: Fail orders-db over
        action: aws.rds.failover_cluster
        params: {target: orders}
"""

@pytest.mark.parametrize("mode", ["dry_run", "live"])
def test_an_aws_account_outside_the_policy_is_refused_before_any_call(worker, import_yaml, start_drill, aws_proxy,
                                                                       mode):
    aws_proxy.reset()
    import_yaml(AWS)
    drill = wait_for_drill(start_drill("elsewhere-failover", mode=mode))
    assert drill.status == Drill.Status.FAILED
    assert "aws account 999999999999 is not allowed (cloud.aws:" in drill.step_runs.get().error
    assert aws_proxy.operations() == []
