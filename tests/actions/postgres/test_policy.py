"""The worker policy for PostgreSQL targets, in a dry-run's plan() and a live run(): a cluster the
policy allows (its host, its tools, its OS user, its password variable) is reached; the same cluster
named through a host, a tool folder or a password variable the policy does not list is refused
before any connection or tool, and the server keeps running untouched."""

from __future__ import annotations

import pytest

from drills.models import Drill
from tests.support.pg_cluster import shop_db_system
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

STATUS = """
runbooks:
  - slug: status-pg1
    title: Replication status of the shop database
    system: shop-db
    kind: partial_failover
    steps:
      - name: Read the replication status
        action: postgres.replication_status
        params: {target: pg1}
      - name: Stop the primary
        action: postgres.fault
        params: {target: pg1, mode: stop}
"""


@pytest.mark.parametrize("mode", ["dry_run", "live"])
def test_a_cluster_inside_the_policy_is_reached(worker, import_yaml, start_drill, sandbox, mode):
    pg1 = sandbox.primary("pg1")
    import_yaml(shop_db_system(pg1=pg1.binding()), STATUS)
    drill = wait_for_drill(start_drill("status-pg1", mode=mode), timeout=60)
    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert pg1.running() is (mode == "dry_run")


@pytest.mark.parametrize("mode", ["dry_run", "live"])
@pytest.mark.parametrize("outside, rule", [
    ({"host": "192.0.2.10"}, "connect to 192.0.2.10"),
    ({"bin_dir": "/usr/bin"}, "programs from /usr/bin are not allowed"),
    ({"password_env": "HOME"}, "the environment variable HOME may not be read"),
])
def test_a_cluster_outside_the_policy_is_refused_untouched(worker, import_yaml, start_drill, sandbox, mode, outside,
                                                           rule):
    pg1 = sandbox.primary("pg1")
    import_yaml(shop_db_system(pg1=pg1.binding(**outside)), STATUS)
    drill = wait_for_drill(start_drill("status-pg1", mode=mode), timeout=60)
    assert drill.status == Drill.Status.FAILED
    assert rule in drill.step_runs.get(position=1).error
    assert pg1.running()
