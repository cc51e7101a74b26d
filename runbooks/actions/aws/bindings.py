"""AWS targets as a system binds them, checked at import, and the cloud access each one implies.

A binding names *where* (account, region, an optional role to assume) and *what* (a cluster, an
instance, a record, a table); it never holds a credential. The worker acts with boto3's own
credential chain (environment, profile, instance role), assuming ``role_arn`` when one is given.
The account is required: the worker's policy allows accounts by id, and the credentials are checked
to really act in that account before anything is called (``client.session_for``).

This module imports no SDK: the importer and the web server check bindings without loading boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..base import ActionFailed, StepContext
from ..policy import CloudAccess

CLUSTER = "aws-rds-cluster"
INSTANCE = "aws-rds-instance"
GLOBAL_CLUSTER = "aws-rds-global-cluster"
RECORD = "aws-route53-record"
TABLE = "aws-dynamodb-table"
KINDS = (CLUSTER, INSTANCE, GLOBAL_CLUSTER, RECORD, TABLE)

# Route 53 is a global service: its bindings name no region, and the policy sees this one.
GLOBAL_REGION = "global"

COMMON_FIELDS = {"kind", "account", "region", "role_arn", "external_id"}
# The resource each kind names, and the fields it may carry besides the common ones.
RESOURCE_FIELD = {CLUSTER: "cluster", INSTANCE: "instance", GLOBAL_CLUSTER: "global_cluster",
                  RECORD: "record_name", TABLE: "table"}
KIND_FIELDS = {
    CLUSTER: {"cluster"},
    INSTANCE: {"instance"},
    GLOBAL_CLUSTER: {"global_cluster"},
    RECORD: {"hosted_zone_id", "record_name", "record_type", "primary_set_identifier",
             "secondary_set_identifier", "health_check_id"},
    TABLE: {"table"},
}
ACCOUNT = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
# RDS identifiers: a letter, then letters, digits and single hyphens, at most 63 characters.
RDS_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
HOSTED_ZONE = re.compile(r"^(/hostedzone/)?[A-Z0-9]{1,32}$")
KIND_WORDS = {CLUSTER: "Aurora cluster", INSTANCE: "RDS instance", GLOBAL_CLUSTER: "Aurora global database",
              RECORD: "Route 53 record", TABLE: "DynamoDB table"}


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with an AWS target binding, as (field, message) pairs; checked at import."""
    kind = binding.get("kind", "")
    allowed = COMMON_FIELDS | KIND_FIELDS[kind]
    problems: list[tuple[str, str]] = []
    for key in sorted(set(binding) - allowed):
        hint = " (drdrill never stores AWS credentials: the worker uses boto3's own chain)" if "secret" in key or "key" in key else ""
        problems.append((key, f"unknown field; a {kind} target takes: {', '.join(sorted(allowed - {'kind'}))}{hint}"))
    account = binding.get("account")
    if account is None:
        problems.append(("account", "required: the 12-digit AWS account id (the worker's policy allows accounts by id)"))
    elif not ACCOUNT.match(str(account)):
        problems.append(("account", f"must be a 12-digit AWS account id, got {account!r}"))
    region = binding.get("region")
    if kind == RECORD:
        if region is not None:
            problems.append(("region", "Route 53 is global: a route53 record target names no region"))
    elif region is None:
        problems.append(("region", "required: the AWS region, e.g. eu-west-1"))
    elif not isinstance(region, str) or not REGION.match(region):
        problems.append(("region", f"must be an AWS region such as eu-west-1, got {region!r}"))
    role = binding.get("role_arn")
    if role is not None:
        match = ROLE_ARN.match(str(role))
        if not match:
            problems.append(("role_arn", f"must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {role!r}"))
        elif account is not None and match.group(1) != str(account):
            problems.append(("role_arn", f"names account {match.group(1)}, but the target's account is {account}"))
    if binding.get("external_id") is not None and role is None:
        problems.append(("external_id", "only used with role_arn"))
    resource_field = RESOURCE_FIELD[kind]
    value = binding.get(resource_field)
    if not value or not isinstance(value, str):
        problems.append((resource_field, f"required: the {KIND_WORDS[kind]}'s name"))
    elif kind in (CLUSTER, INSTANCE, GLOBAL_CLUSTER) and not RDS_IDENTIFIER.match(value):
        problems.append((resource_field, "must be an RDS identifier: a letter, then letters, digits and single "
                                         f"hyphens, at most 63 characters; got {value!r}"))
    elif kind == TABLE and not TABLE_NAME.match(value):
        problems.append((resource_field, f"must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -), got {value!r}"))
    if kind == RECORD:
        problems.extend(_record_problems(binding))
    return problems


def _record_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    zone = binding.get("hosted_zone_id")
    if not zone or not HOSTED_ZONE.match(str(zone)):
        problems.append(("hosted_zone_id", f"required: the hosted zone's id (e.g. Z0123456789ABC), got {zone!r}"))
    for field in ("primary_set_identifier", "secondary_set_identifier"):
        if not binding.get(field) or not isinstance(binding[field], str):
            problems.append((field, "required: the SetIdentifier of the failover record (Failover PRIMARY / SECONDARY)"))
    record_type = binding.get("record_type", "A")
    if record_type not in ("A", "AAAA", "CNAME", "TXT"):
        problems.append(("record_type", f"must be A, AAAA, CNAME or TXT, got {record_type!r}"))
    return problems


def binding_access(binding: dict[str, Any]) -> list[CloudAccess]:
    """Every step on an AWS target acts in its account and region: the worker's policy decides."""
    region = GLOBAL_REGION if binding.get("kind") == RECORD else binding.get("region")
    return [CloudAccess("aws", str(binding["account"]) if binding.get("account") is not None else None, region)]


@dataclass(frozen=True)
class AwsTarget:
    """One AWS binding of the step's system, with the words to name it in messages."""

    name: str
    binding: dict[str, Any]

    @classmethod
    def of(cls, ctx: StepContext, name: str, *kinds: str) -> AwsTarget:
        binding = ctx.target(name)
        if binding.get("kind") not in kinds:
            raise ActionFailed(f"target {name!r} is a {binding.get('kind')!r} target; this step needs "
                               f"{' or '.join(repr(k) for k in kinds)}")
        return cls(name, binding)

    @property
    def kind(self) -> str:
        return self.binding["kind"]

    @property
    def account(self) -> str:
        return str(self.binding["account"])

    @property
    def region(self) -> str:
        return GLOBAL_REGION if self.kind == RECORD else str(self.binding["region"])

    @property
    def resource(self) -> str:
        return str(self.binding[RESOURCE_FIELD[self.kind]])

    @property
    def where(self) -> str:
        return f"account {self.account}" + ("" if self.kind == RECORD else f", {self.region}")

    @property
    def label(self) -> str:
        """'Aurora cluster orders-db (account 123456789012, eu-west-1)'."""
        return f"{KIND_WORDS[self.kind]} {self.resource} ({self.where})"


def describe_target(targets: dict[str, dict[str, Any]], name: str) -> str:
    """For describe(): the target's resource in words, or its name when the binding is unknown."""
    binding = targets.get(name) or {}
    kind = binding.get("kind")
    if kind not in KINDS or not binding.get(RESOURCE_FIELD[kind]):
        return f"target {name!r}"
    return f"{KIND_WORDS[kind]} {binding[RESOURCE_FIELD[kind]]}"


def region_words(targets: dict[str, dict[str, Any]], name: str) -> str:
    region = (targets.get(name) or {}).get("region")
    return f" in {region}" if region else ""
