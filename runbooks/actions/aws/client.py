"""boto3 sessions and clients for AWS targets, and AWS errors turned into messages a coordinator can act on.

Credentials come only from boto3's default chain (environment, shared profile, instance or task
role); a binding with ``role_arn`` assumes that role with STS first. Nothing is stored: assumed
credentials live in this worker process until shortly before they expire. Before any call the
session's account is checked against the binding's (``sts:GetCallerIdentity``, which needs no
permission), so a worker whose credentials belong to another account refuses instead of acting
there: the worker's policy allows accounts by the binding's id, and that must be where we act.

Calls use botocore's *standard* retry mode: throttling and transient errors are retried with
backoff, a few times, inside one call; a call that still fails becomes the step's failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ..base import ActionFailed
from .bindings import AwsTarget

# Standard mode: up to 4 attempts with jittered exponential backoff, so a throttled call is retried
# quietly; the timeouts keep one call well inside an action's call_timeout.
RETRY_ATTEMPTS = 4
CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": RETRY_ATTEMPTS}, connect_timeout=5,
                       read_timeout=15, user_agent_extra="drdrill")
# Assumed-role credentials are dropped this long before they expire.
ASSUMED_ROLE_SECONDS = 3600
RENEW_BEFORE_SECONDS = 300
# Sessions per (account, region, role): the account check runs once per session.
_sessions: dict[tuple[str, str, str], tuple[boto3.session.Session, float]] = {}
_clients: dict[tuple[str, str, str, str], Any] = {}
_lock = threading.Lock()

IAM_PREFIX = {"rds": "rds", "route53": "route53", "dynamodb": "dynamodb", "cloudwatch": "cloudwatch",
              "sts": "sts", "resourcegroupstaggingapi": "tag"}
NOT_FOUND = ("NotFound", "NoSuch")
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                 "UnauthorizedAccess", "NotAuthorized"}
THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
             "TooManyRequestsException", "ProvisionedThroughputExceededException", "PriorRequestNotComplete",
             "RequestThrottled", "RequestThrottledException", "SlowDown"}


def _region_for_client(target: AwsTarget) -> str:
    # Route 53 answers in us-east-1, whatever region the worker is in.
    return "us-east-1" if target.region == "global" else target.region


def session_for(target: AwsTarget) -> boto3.session.Session:
    region = _region_for_client(target)
    role = target.binding.get("role_arn") or ""
    key = (target.account, region, role)
    with _lock:
        cached = _sessions.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
    session = boto3.session.Session(region_name=region)
    expires = float("inf")
    if role:
        session, expires = _assume(session, role, target)
    _check_account(session, target)
    with _lock:
        _sessions[key] = (session, expires)
        for client_key in [k for k in _clients if k[:3] == key]:
            del _clients[client_key]
    return session


def _assume(base: boto3.session.Session, role: str, target: AwsTarget) -> tuple[boto3.session.Session, float]:
    arguments: dict[str, Any] = {"RoleArn": role, "RoleSessionName": "drdrill", "DurationSeconds": ASSUMED_ROLE_SECONDS}
    if target.binding.get("external_id"):
        arguments["ExternalId"] = str(target.binding["external_id"])
    with aws_errors(f"role {role} (target {target.name!r})", "sts"):
        credentials = base.client("sts", config=CLIENT_CONFIG).assume_role(**arguments)["Credentials"]
    lifetime = (credentials["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    session = boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                    aws_secret_access_key=credentials["SecretAccessKey"],
                                    aws_session_token=credentials["SessionToken"], region_name=base.region_name)
    return session, time.monotonic() + max(lifetime - RENEW_BEFORE_SECONDS, 60)


def _check_account(session: boto3.session.Session, target: AwsTarget) -> None:
    with aws_errors(f"the worker's AWS credentials (target {target.name!r})", "sts"):
        actual = session.client("sts", config=CLIENT_CONFIG).get_caller_identity()["Account"]
    if actual != target.account:
        raise ActionFailed(f"target {target.name!r} names AWS account {target.account}, but the worker's credentials "
                           f"act in account {actual}; nothing was done. Give the worker credentials for "
                           f"{target.account} (or a role_arn in it)")


def client_for(target: AwsTarget, service: str) -> Any:
    """The boto3 client for ``service`` in the target's account and region (one per process)."""
    session = session_for(target)
    key = (target.account, _region_for_client(target), target.binding.get("role_arn") or "", service)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = session.client(service, config=CLIENT_CONFIG)
            _clients[key] = client
    return client


def iam_action(error: botocore.exceptions.ClientError, service: str) -> str:
    """The IAM action an API call needs: its service prefix and operation name (rds:FailoverDBCluster)."""
    return f"{IAM_PREFIX.get(service, service)}:{error.operation_name or '?'}"


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: botocore.exceptions.ClientError) -> bool:
    code = error_code(error)
    return any(marker in code for marker in NOT_FOUND) or code == "ResourceNotFoundException"


@contextlib.contextmanager
def aws_errors(resource: str, service: str) -> Iterator[None]:
    """Turn what AWS (or the SDK) raised into a step failure that names ``resource`` and, when
    access was denied, the IAM action the worker's role must be allowed."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        code = error_code(error)
        message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
        action = iam_action(error, service)
        if code in ACCESS_DENIED or "AccessDenied" in code:
            raise ActionFailed(f"AWS denied {action} on {resource}: {code}: {message}. Allow {action} to the role "
                               "the worker uses (the IAM policy in docs/actions-aws.md)") from None
        if code in THROTTLED:
            attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            raise ActionFailed(f"AWS throttled {action} on {resource} ({code}) after {attempts} attempts; "
                               "retry the step later") from None
        if is_not_found(error):
            raise ActionFailed(f"{resource} was not found ({action}: {code}: {message})") from None
        if "InvalidDB" in code and "State" in code or code in ("InvalidGlobalClusterStateFault", "ResourceInUseException"):
            raise ActionFailed(f"{resource} is not in a state that allows {action}: {code}: {message}") from None
        raise ActionFailed(f"{action} on {resource} failed: {code}: {message}") from None
    except botocore.exceptions.NoCredentialsError:
        raise ActionFailed(f"no AWS credentials on this worker for {resource}: give the worker credentials through "
                           "boto3's chain (environment, profile, instance role); drdrill never stores them") from None
    except botocore.exceptions.BotoCoreError as error:
        raise ActionFailed(f"AWS call for {resource} failed: {error}") from None


def tags_of(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_list or []}


def as_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat()
