"""What an Azure binding may name and where it lets a step act: bindings are checked at import
(every problem named by field), each binding implies its subscription in each server's region for
the worker's policy, and every action says in plain words what it would do."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.actions import CreatedResource, get_action, parse_params
from runbooks.actions.policy import CloudAccess, PolicyRefused, WorkerPolicy
from runbooks.actions.registry import load_families
from runbooks.services import import_runbooks
from runbooks.yaml_format import RunbookFormatError
from tests.actions.azure.conftest import EXAMPLES, context, example, targets

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def policy(tmp_path: Path, text: str) -> WorkerPolicy:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return WorkerPolicy.from_file(path)


def test_a_binding_acts_in_its_subscription_in_both_servers_regions():
    accesses = load_families().binding_access(targets()["fog"])
    assert accesses == [CloudAccess("azure", SUBSCRIPTION, "westeurope"), CloudAccess("azure", SUBSCRIPTION, "northeurope")]
    single = {k: v for k, v in targets()["db"].items() if not k.startswith("partner_")}
    assert load_families().binding_access(single) == [CloudAccess("azure", SUBSCRIPTION, "westeurope")]


def test_the_worker_policy_allows_listed_subscriptions_and_regions_only(tmp_path):
    accesses = load_families().binding_access(targets()["fog"])
    allowed = policy(tmp_path, f"cloud:\n  azure:\n    subscriptions: ['{SUBSCRIPTION}']\n")
    allowed.check_all(accesses)

    other = policy(tmp_path, "cloud:\n  azure:\n    subscriptions: ['11111111-1111-1111-1111-111111111111']\n")
    with pytest.raises(PolicyRefused, match=f"azure account {SUBSCRIPTION} is not allowed"):
        other.check_all(accesses)
    one_region = policy(tmp_path, f"cloud:\n  azure:\n    subscriptions: ['{SUBSCRIPTION}']\n    regions: [westeurope]\n")
    with pytest.raises(PolicyRefused, match="azure region northeurope is not allowed"):
        one_region.check_all(accesses)
    with pytest.raises(PolicyRefused, match=r"cloud\.azure is not set"):
        policy(tmp_path, "network: [127.0.0.1]\n").check_all(accesses)


def test_a_cleanup_step_acts_where_the_drill_created_its_databases():
    created = tuple(CreatedResource("azure", "sql-database", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/"
                                    f"Microsoft.Sql/servers/s/databases/{name}", target="db", region="westeurope",
                                    account=SUBSCRIPTION) for name in ("a", "b"))
    cleanup = get_action("azure.cleanup")
    assert cleanup.touches(parse_params(cleanup.Params, {}), context(created=created)) == [
        CloudAccess("azure", SUBSCRIPTION, "westeurope")]


def test_bad_bindings_are_refused_at_import_naming_each_field(db):
    broken = example("orders-sql.yaml", **{
        "subscription_id: 00000000-0000-0000-0000-000000000000\n        resource_group: orders-rg\n        server: orders-sql-weu\n        location: westeurope\n        partner_server: orders-sql-neu\n        partner_location: northeurope\n        partner_resource_group: orders-rg-dr\n        failover_group: orders-fog":
        "subscription_id: my-subscription\n        resource_group: orders-rg\n        server: Orders_SQL\n        location: West Europe\n        partner_server: orders-sql-neu\n        failover_group: orders-fog\n        password: hunter2",
    })
    with pytest.raises(RunbookFormatError) as refused:
        import_runbooks(sources=[("orders-sql.yaml", broken)])
    message = str(refused.value)
    for expected in ("targets.fog.subscription_id: must be a subscription id", "targets.fog.server: must be an Azure SQL server name",
                     "targets.fog.location: must be an Azure region name", "targets.fog.partner_location: required",
                     "targets.fog.password: unknown field"):
        assert expected in message, message
    assert "hunter2" not in message  # a value put where a secret must not go is not echoed


def test_step_parameters_are_checked_at_import(db):
    bad = example("point-in-time-restore.yaml", **{"seconds_ago: 120": "seconds_ago: 120, point_in_time: '2026-01-01T00:00:00'"})
    with pytest.raises(RunbookFormatError, match="params.point_in_time: give either point_in_time"):
        import_runbooks(sources=[("system.yaml", example("orders-sql.yaml")), ("restore.yaml", bad)])
    wrong_kind = example("failover-group.yaml", **{"params: {target: fog, to_server: orders-sql-neu}": "params: {target: db}"})
    with pytest.raises(RunbookFormatError, match="azure.sql.failover_group needs a azure-sql-failover-group target"):
        import_runbooks(sources=[("system.yaml", example("orders-sql.yaml")), ("failover.yaml", wrong_kind)])


def test_the_shipped_examples_import(db):
    sources = [(path.name, path.read_text()) for path in sorted(EXAMPLES.glob("*.yaml"))]
    report = import_runbooks(sources=sources)
    assert report.systems_created == ["orders-sql"]
    assert len(report.versions_created) == len(sources) - 1


@pytest.mark.parametrize("action, raw, words", [
    ("azure.sql.failover_group", {"target": "fog"},
     "Makes orders-sql-neu the primary of Azure SQL failover group orders-fog (planned failover); applications using "
     "the group's listener follow it. No committed data is lost."),
    ("azure.sql.force_failover", {"target": "fog", "try_planned_first": True},
     "Makes orders-sql-neu the primary of Azure SQL failover group orders-fog (planned-before-forced failover); "
     "applications using the group's listener follow it. Transactions not yet replicated may be lost."),
    ("azure.sql.geo_link_failover", {"target": "db", "allow_data_loss": True},
     "Makes database orders on orders-sql-neu the geo-replication primary (forced: transactions not yet replicated "
     "may be lost)."),
    ("azure.sql.wait_role", {"target": "fog", "primary": "orders-sql-weu"},
     "Reads failover group orders-fog every 5 s until it reports orders-sql-weu as its primary; changes nothing."),
    ("azure.sql.restore_point_in_time", {"target": "db", "seconds_ago": 120, "ttl_seconds": 3600},
     "Creates database orders-drill-<drill id> on server orders-sql-weu from orders as it was at 120 s before the "
     "step runs (point-in-time restore); the source is not changed; the new database is deleted after 3600 s unless "
     "a cleanup step deletes it first."),
    ("azure.cleanup", {"target": "db"},
     "Deletes the Azure SQL databases this drill created through target db (restored copies); databases it did not "
     "create are never touched."),
])
def test_each_action_describes_what_it_would_do_in_plain_words(action, raw, words):
    implementation = get_action(action)
    assert implementation.describe(parse_params(implementation.Params, raw), targets()) == words
