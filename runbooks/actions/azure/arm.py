"""Talking to Azure Resource Manager through azure-mgmt-sql: the client, the credential, errors a
participant can act on, and long-running operations followed one look at a time.

- **Credentials**: azure-identity's ``DefaultAzureCredential`` (environment variables, workload or
  managed identity, the Azure CLI...), one per worker process so its token cache is reused. Nothing
  secret is passed in, stored or logged by drdrill.
- **Endpoint**: the public cloud by default; ``AZURE_SDK_CLOUD_CONF`` (azure-core's own setting:
  ``AZURE_CHINA_CLOUD``, ``AZURE_US_GOVERNMENT``) picks a sovereign cloud's endpoint and token
  audience; ``AZURE_RESOURCE_MANAGER_ENDPOINT`` (and ``AZURE_RESOURCE_MANAGER_AUDIENCE``) name any
  other Resource Manager, such as Azure Stack or a private gateway.
- **Long-running operations** (a failover, a restore, a delete) are started once; the step keeps the
  SDK's continuation token in its poll state and each poll makes one status request with it. The
  worker never sleeps through an operation, and a worker killed meanwhile loses nothing: the next
  poll, on any worker, follows the same operation.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.core.polling import LROPoller
from azure.identity import DefaultAzureCredential
from azure.mgmt.core.polling.arm_polling import ARMPolling
from azure.mgmt.sql import SqlManagementClient

from ..base import ActionFailed

ENDPOINT_VARIABLE = "AZURE_RESOURCE_MANAGER_ENDPOINT"
AUDIENCE_VARIABLE = "AZURE_RESOURCE_MANAGER_AUDIENCE"
# Azure asks throttled clients to wait (Retry-After). Waits up to this long (and no longer than one
# request may take) are taken inside a call; a longer one would hold the worker past its lease, so
# it surfaces instead: a failure when starting, a later poll when following an operation.
MAX_RETRY_AFTER_SECONDS = 5.0
RETRIES = 3
# Requests in one run()/poll() call at most (a token, a read, a start or a status look, a final read),
# each bounded by the step's request_timeout, retries included, plus one last throttling wait.
REQUESTS_PER_CALL = 4

_credential: DefaultAzureCredential | None = None
_credential_lock = threading.Lock()


def credential() -> DefaultAzureCredential:
    global _credential
    with _credential_lock:
        if _credential is None:
            _credential = DefaultAzureCredential()
        return _credential


def longest_wait(request_timeout: float) -> float:
    return min(MAX_RETRY_AFTER_SECONDS, request_timeout)


def call_budget(request_timeout: float) -> float:
    """The call_timeout of an Azure action: its requests, each bounded by the step's request_timeout."""
    return REQUESTS_PER_CALL * (request_timeout + longest_wait(request_timeout))


class BoundedRetry(RetryPolicy):
    """azure-core's retry (429, 5xx, connection errors; Retry-After honoured), except that a
    Retry-After longer than ``max_wait``, or one that would end past the request's time budget, is
    not slept through: Azure's own answer (429 and its error code) reaches the step instead of a
    bare timeout."""

    def __init__(self, *, max_wait: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_wait = max_wait

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["deadline"] = time.monotonic() + settings["timeout"]
        return settings

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None:
            # Leave the retried request a quarter of the budget (at most a second) to be answered in.
            margin = min(1.0, settings["timeout"] / 4)
            if retry_after > self.max_wait or time.monotonic() + retry_after + margin >= settings["deadline"]:
                return False
        return bool(super().is_retry(settings, response))


def endpoint() -> str:
    return os.environ.get(ENDPOINT_VARIABLE) or "the Azure Resource Manager of AZURE_SDK_CLOUD_CONF (public cloud by default)"


def sql_client(subscription_id: str, *, request_timeout: float) -> SqlManagementClient:
    options: dict[str, Any] = {}
    if os.environ.get(ENDPOINT_VARIABLE):
        options["base_url"] = os.environ[ENDPOINT_VARIABLE]
    if os.environ.get(AUDIENCE_VARIABLE):
        options["credential_scopes"] = [os.environ[AUDIENCE_VARIABLE].rstrip("/") + "/.default"]
    return SqlManagementClient(
        credential(), subscription_id,
        retry_policy=BoundedRetry(max_wait=longest_wait(request_timeout), retry_total=RETRIES, retry_backoff_factor=0.2,
                                  retry_backoff_max=longest_wait(request_timeout), timeout=request_timeout),
        connection_timeout=min(5.0, request_timeout), read_timeout=request_timeout,
        # The SDK logs every request at INFO; a poll every few seconds would drown the drill's own log.
        http_logging_policy=SansIOHTTPPolicy(),
        user_agent="drdrill",
        **options,
    )


# --- errors -------------------------------------------------------------------------------------

HINTS = {
    401: "the worker's Azure credential was refused",
    403: "the worker's identity lacks the Azure role this needs on it (docs/actions-azure.md lists the role of each action)",
    404: "it does not exist: check the target's subscription, resource group and names",
    409: "Azure refused it in the resource's current state (another operation may be running on it)",
    429: "Azure is throttling this subscription's requests; retry the step later",
}


def arm_code(error: AzureError) -> str:
    details = getattr(error, "error", None)
    return str(getattr(details, "code", None) or getattr(error, "reason", None) or type(error).__name__)


def failure(error: AzureError, doing: str) -> ActionFailed:
    """An Azure error as a step failure: what we were doing to which resource, Azure's status and
    error code, its message, and what the participant can do."""
    if isinstance(error, ClientAuthenticationError) and getattr(error, "status_code", None) is None:
        first_line = str(error.message or error).strip().splitlines()[0][:300]
        return ActionFailed(f"{doing}: could not get an Azure token through DefaultAzureCredential ({first_line}); "
                            "give the worker an identity (docs/actions-azure.md#credentials)")
    if isinstance(error, ServiceRequestError):
        return ActionFailed(f"{doing}: could not reach {endpoint()}: {str(error)[:300]}")
    status = getattr(error, "status_code", None)
    message = _message(error)
    hint = HINTS.get(status or 0, "")
    answered = f"Azure answered {status} {arm_code(error)}" if status else f"Azure error {arm_code(error)}"
    return ActionFailed(f"{doing}: {answered}: {message}" + (f" ({hint})" if hint else ""))


def is_not_found(error: AzureError) -> bool:
    return getattr(error, "status_code", None) == 404


# --- long-running operations --------------------------------------------------------------------

class _HandBack(Exception):
    """Raised instead of sleeping between two status requests: the engine does the waiting."""


class OneLook(ARMPolling):
    """ARM polling that makes at most one status request per call (none with ``look=False``, for
    the call that starts the operation) and then hands back, noting how long Azure asked us to wait
    (Retry-After) before the next look."""

    def __init__(self, *, interval: float, look: bool = True) -> None:
        super().__init__(timeout=interval)
        self._look = look
        self.next_look_after = interval

    def run(self) -> None:
        if not self._look:
            return
        try:
            super().run()
        except _HandBack:
            pass

    def _delay(self) -> None:
        self.next_look_after = self._extract_delay()
        raise _HandBack

    def first_look_after(self) -> float:
        """After the starting request: its Retry-After, else the interval."""
        return float(self._extract_delay())


@dataclass(frozen=True)
class Look:
    status: str                  # Azure's: InProgress, Succeeded, Failed, Canceled; or Unanswered
    result: Any = None           # the resource the operation produced, once Succeeded
    next_look_after: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in ("Succeeded", "Failed", "Canceled")


Begin = Callable[..., LROPoller[Any]]


@dataclass(frozen=True)
class Started:
    token: str                   # the SDK's continuation token: the operation, for any later poll
    next_look_after: float       # Azure's Retry-After, else the step's interval


def start(begin: Begin, *args: Any, doing: str, interval: float, **kwargs: Any) -> Started:
    """Send the request that starts an operation and return its continuation token, without
    looking at it yet: the sooner the step's state holds the token, the smaller the window in which
    a lost worker could leave an operation nobody follows."""
    polling = OneLook(interval=interval, look=False)
    try:
        poller = begin(*args, polling=polling, **kwargs)
        return Started(poller.continuation_token(), polling.first_look_after())
    except AzureError as error:
        raise failure(error, doing) from None


def look(begin: Begin, *args: Any, token: str, doing: str, interval: float) -> Look:
    """One status request for the operation ``token`` continues. A throttled or unanswered look is
    not the operation's failure: it is reported as Unanswered and looked at again later."""
    polling = OneLook(interval=interval)
    try:
        poller = begin(*args, continuation_token=token, polling=polling)
        poller.wait()
    except HttpResponseError as error:
        status = getattr(error, "status_code", None)
        if status == 429 or (status or 0) >= 500:
            return Look("Unanswered", next_look_after=max(interval, _seconds(error.response)))
        if polling.status() in ("Failed", "Canceled"):
            raise ActionFailed(f"{doing} ended {polling.status()}: Azure error {arm_code(error)}: "
                               f"{_message(error)}") from None
        raise failure(error, doing) from None
    except ServiceRequestError:
        return Look("Unanswered", next_look_after=interval)
    except AzureError as error:
        raise failure(error, doing) from None
    status = poller.status()
    if status == "Succeeded":
        return Look(status, result=poller.result())
    if status in ("Failed", "Canceled"):
        raise ActionFailed(f"{doing} ended {status} (Azure gave no error details)")
    return Look(status, next_look_after=polling.next_look_after)


def _seconds(response: Any) -> float:
    """A Retry-After in seconds (0 when absent, or given as a date)."""
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _message(error: AzureError) -> str:
    details = getattr(error, "error", None)
    return str(getattr(details, "message", None) or getattr(error, "message", None) or error).strip().splitlines()[0][:600]
