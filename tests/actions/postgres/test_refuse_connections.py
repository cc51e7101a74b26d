"""The outage of a drill can also be a database that refuses connections while its server keeps
running (e.g. to rehearse an application-level failover): the sessions are ended, new ones refused,
and the step says how to undo it."""

from __future__ import annotations

import psycopg
import pytest

from drills.models import Drill
from tests.support.pg_cluster import shop_db_system
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

REFUSE = """
runbooks:
  - slug: refuse-pg1
    title: The shop database refuses connections
    system: shop-db
    kind: partial_failover
    steps:
      - key: disaster
        name: Refuse connections to the shop database
        action: postgres.fault
        params: {target: pg1, mode: refuse_connections}
        marks: [outage_start]
"""


def test_refusing_connections_ends_sessions_and_marks_the_outage(worker, import_yaml, start_drill, sandbox):
    pg1 = sandbox.primary("pg1")
    import_yaml(shop_db_system(pg1=pg1.binding()), REFUSE)
    application = pg1.connect()

    drill = wait_for_drill(start_drill("refuse-pg1"), timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    step = drill.step_runs.get()
    assert step.marks["outage_start"] == step.evidence["fault_at"]
    assert step.evidence["sessions_ended"] >= 1
    with pytest.raises(psycopg.OperationalError):
        application.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="is not currently accepting connections"):
        pg1.connect()
    assert pg1.running()

    with pg1.connect("postgres") as conn:
        conn.execute(step.evidence["undo"])
    assert pg1.orders_summary()[0] == 1000
