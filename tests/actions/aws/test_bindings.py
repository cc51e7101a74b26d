"""AWS targets as systems bind them: checked at import with messages naming the field, turned into
the cloud access the worker's policy judges, the shipped examples import, and the SDK is loaded only
when an AWS action runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runbooks.actions.aws.bindings import binding_access
from runbooks.actions.policy import CloudAccess, PolicyRefused, WorkerPolicy
from runbooks.services import import_runbooks, read_sources
from runbooks.yaml_format import RunbookFormatError
from tests.support.aws_moto import ACCOUNT, runbook_yaml, system_yaml

ROOT = Path(__file__).resolve().parent.parent.parent.parent
EXAMPLES = ROOT / "runbooks" / "examples" / "aws"


@pytest.mark.django_db
def test_the_shipped_aws_examples_import():
    report = import_runbooks(sources=read_sources(EXAMPLES))
    assert sorted(report.versions_created) == [
        "shop-api-dns-failover v1", "shop-aurora-failover v1", "shop-billing-multi-az v1", "shop-billing-pitr v1",
        "shop-carts-pitr v1", "shop-global-switchover v1", "shop-orders-snapshot-restore v1"]


@pytest.mark.django_db
def test_a_bad_binding_is_refused_naming_the_target_and_field():
    binding = {"kind": "aws-rds-cluster", "account": "12345", "region": "eu-west-1", "cluster": "orders-db",
               "aws_secret_access_key": "nope", "role_arn": "arn:aws:iam::999999999999:role/drdrill"}
    with pytest.raises(RunbookFormatError) as refused:
        import_runbooks(sources=[("shop.yaml", system_yaml({"orders": binding}))])
    message = str(refused.value)
    assert "targets.orders.account: must be a 12-digit AWS account id, got '12345'" in message
    assert ("targets.orders.aws_secret_access_key: unknown field; a aws-rds-cluster target takes: account, cluster, "
            "external_id, region, role_arn (drdrill never stores AWS credentials: the worker uses boto3's own chain)") in message


@pytest.mark.django_db
def test_a_binding_without_an_account_or_region_is_refused():
    with pytest.raises(RunbookFormatError) as refused:
        import_runbooks(sources=[("shop.yaml", system_yaml({"orders": {"kind": "aws-rds-cluster", "cluster": "orders-db"}}))])
    assert "targets.orders.account: required: the 12-digit AWS account id (the worker's policy allows accounts by id)" in str(refused.value)
    assert "targets.orders.region: required: the AWS region, e.g. eu-west-1" in str(refused.value)


@pytest.mark.django_db
def test_a_step_on_the_wrong_kind_of_target_is_refused_at_import():
    table = {"kind": "aws-dynamodb-table", "account": ACCOUNT, "region": "eu-west-1", "table": "carts"}
    with pytest.raises(RunbookFormatError, match=r"params.target: aws.rds.restore_point_in_time needs a aws-rds-cluster "
                                                 r"or aws-rds-instance target, 'carts' is 'aws-dynamodb-table'"):
        import_runbooks(sources=[("shop.yaml", system_yaml({"carts": table}) + runbook_yaml("""
      - name: Restore
        action: aws.rds.restore_point_in_time
        params: {target: carts}
"""))])


def test_every_aws_binding_is_a_cloud_access_in_its_account_and_region():
    assert binding_access({"kind": "aws-rds-instance", "account": ACCOUNT, "region": "eu-west-1", "instance": "b"}) == \
        [CloudAccess("aws", ACCOUNT, "eu-west-1")]
    # Route 53 is global: the policy sees the region "global".
    assert binding_access({"kind": "aws-route53-record", "account": ACCOUNT, "record_name": "api"}) == \
        [CloudAccess("aws", ACCOUNT, "global")]


def test_the_worker_policy_allows_the_accounts_and_regions_it_names_and_refuses_others(tmp_path: Path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(f"cloud:\n  aws:\n    accounts: ['{ACCOUNT}']\n    regions: [eu-west-1, global]\n")
    policy = WorkerPolicy.from_file(policy_file)
    binding = {"kind": "aws-rds-cluster", "account": ACCOUNT, "region": "eu-west-1", "cluster": "orders-db"}

    policy.check_all(binding_access(binding))
    with pytest.raises(PolicyRefused, match=r"aws account 210987654321 is not allowed \(cloud.aws: 123456789012\)"):
        policy.check_all(binding_access({**binding, "account": "210987654321"}))
    with pytest.raises(PolicyRefused, match=r"aws region us-east-1 is not allowed \(cloud.aws.regions: eu-west-1, global\)"):
        policy.check_all(binding_access({**binding, "region": "us-east-1"}))


def test_boto3_is_loaded_only_when_an_aws_action_is_used():
    script = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from runbooks.actions import binding_problems, get_action, load_families
load_families()
assert not binding_problems({"kind": "aws-rds-cluster", "account": "123456789012", "region": "eu-west-1", "cluster": "a"})
assert load_families().binding_access({"kind": "aws-rds-cluster", "account": "123456789012", "region": "eu-west-1"})
print("before", "boto3" in sys.modules)
get_action("aws.rds.failover_cluster")
print("after", "boto3" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["before", "False", "after", "True"], result.stderr[-2000:]
