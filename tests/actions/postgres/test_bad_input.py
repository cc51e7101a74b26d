"""Mistakes in a PostgreSQL drill's setup fail the step with a message that says what to fix, in the
UI and in the CLI's JSON, and leave the servers as they were: an unreachable host, a password
variable that is not set or holds the wrong password, and a "standby" that is really the primary.
Bindings that are wrong on their face are refused at import."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from runbooks.yaml_format import RunbookFormatError
from tests.support.pg_cluster import (
    WRONG_PASSWORD_ENV,
    Cluster,
    Sandbox,
    free_port,
    new_root,
    shop_db_system,
)

PROMOTE_PG2 = """
runbooks:
  - slug: promote-pg2
    title: Promote pg2
    system: shop-db
    kind: partial_failover
    steps:
      - key: promote
        name: Promote the replica
        action: postgres.promote
        params: {target: pg2}
"""


@pytest.fixture(scope="module")
def pair(pg_template) -> Iterator[tuple[Cluster, Cluster]]:
    """One primary with its standby for every case: none of them may change either."""
    box = Sandbox(new_root(), pg_template)
    pg1 = box.primary("pg1")
    yield pg1, box.standby_of(pg1, "pg2")
    box.cleanup()


# What the step says, for each mistake ({port} is the port the binding names).
EXPECTED = {
    "unreachable host": "cannot connect to PostgreSQL target 'pg2' (postgresql://postgres@127.0.0.1:{port}/shop): "
                        "connection failed: connection to server at \"127.0.0.1\", port {port} failed: Connection refused",
    "password variable not set": "password_env names the environment variable DRDRILL_TEST_PG_NOT_SET, which is not set "
                                 "where this worker runs",
    "wrong password": "password authentication failed for user \"postgres\". Check the password in the environment "
                      f"variable {WRONG_PASSWORD_ENV} (password_env).",
    "standby that is not a standby": "target 'pg2' (postgresql://postgres@127.0.0.1:{port}/shop) is not a standby: "
                                     "pg_is_in_recovery() is false, it already accepts writes as a primary; "
                                     "nothing was changed",
}


@pytest.mark.worker
@pytest.mark.parametrize("case", list(EXPECTED))
def test_a_bad_binding_fails_the_step_clearly_and_touches_nothing(worker, import_yaml, client, coordinator, pair, case):
    pg1, pg2 = pair
    orders_before = pg1.orders_summary()
    pg2_binding = {
        "unreachable host": pg2.binding(port=free_port()),
        "password variable not set": pg2.binding(password_env="DRDRILL_TEST_PG_NOT_SET"),
        "wrong password": pg2.binding(password_env=WRONG_PASSWORD_ENV),
        "standby that is not a standby": pg1.binding(),
    }[case]
    import_yaml(shop_db_system(pg1=pg1.binding(), pg2=pg2_binding), PROMOTE_PG2)
    expected = EXPECTED[case].format(port=pg2_binding["port"])

    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("drill", "run", "promote-pg2", "--wait", "--json", "--timeout", "60", stdout=out)
    assert exited.value.code == 1
    result = json.loads(out.getvalue())
    assert result["status"] == "failed"
    assert expected in result["steps"][0]["error"], result["steps"][0]["error"]

    client.force_login(coordinator)
    page = client.get(reverse("drills:drill_detail", args=[result["drill"]])).content.decode()
    assert html.escape(expected) in page

    # Nothing was touched: pg1 is the primary with the same orders, pg2 its standby, never promoted.
    assert not pg1.in_recovery()
    assert pg1.orders_summary() == orders_before
    assert pg2.in_recovery()
    assert pg2.query("SELECT status, sender_port FROM pg_stat_wal_receiver")[0] == ("streaming", pg1.port)
    assert pg2.timeline_histories() == []


@pytest.mark.parametrize("binding, message", [
    ({"pasword_env": "SHOP_DB_PASSWORD"}, "targets.pg1.pasword_env: unknown field"),
    ({"password": "hunter2-secret"}, "targets.pg1.password: secrets are never stored"),
    ({"password_env": "shop db password"}, "targets.pg1.password_env: must be the name of an environment variable"),
    ({"port": [5432, 5433]}, "targets.pg1.port: gives 2 ports for 1 hosts"),
    ({"data_dir": "pg1"}, "targets.pg1.data_dir: must be an absolute path"),
])
def test_a_postgres_binding_wrong_on_its_face_is_refused_at_import(db, import_yaml, binding, message):
    pg1 = {"kind": "postgres", "host": "127.0.0.1", "port": 5432, "dbname": "shop", "user": "drdrill", **binding}
    with pytest.raises(RunbookFormatError) as refused:
        import_yaml(shop_db_system(pg1=pg1))
    assert message in str(refused.value)
