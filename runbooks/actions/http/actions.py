"""HTTP actions: call an endpoint, and probe a service until it is verified healthy.

The probe behind ``service_restored``: the service counts as restored at the *first* success of a
run of ``consecutive`` successes, and it came back somewhere after the last failed probe. Both times
are kept, so the RTO is reported with its error bound (see docs/measurement.md).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, ParamError, StepContext, require_positive
from ..policy import EnvAccess, UrlAccess
from ..probing import PROBE_BURST_SECONDS, probe_until_healthy

# How much of a response is kept (before redaction and the engine's cut to what pages show).
RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    status: int | None
    detail: str


def probe(url: str, *, method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None,
          timeout: float, expect_status: int) -> ProbeResult:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            text = response.read(RESPONSE_BYTES).decode(errors="replace")
    except urllib.error.HTTPError as error:
        status = error.code
        text = error.read(RESPONSE_BYTES).decode(errors="replace") if error.fp else ""
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        return ProbeResult(False, None, f"no response: {reason}")
    # Not cut here: the engine redacts secrets from the whole text first, then shortens it, so a
    # secret straddling the cut cannot leave its first characters behind.
    return ProbeResult(status == expect_status, status, text)


def headers_from_environment(references: dict[str, str]) -> dict[str, str]:
    headers = {}
    for header, variable in references.items():
        value = os.environ.get(variable)
        if not value:
            raise ActionFailed(f"header {header}: the environment variable {variable} is not set on the worker")
        headers[header] = value
    return headers


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ParamError("url", f"must start with http:// or https://, got {url!r}")


def _described_url(params: Any, targets: dict[str, dict[str, Any]]) -> str:
    """The URL as the binding names it, for describe(): no request, no failure on a missing binding."""
    if params.url:
        return params.url
    base = targets.get(params.target or "", {}).get("url") or f"target {params.target!r}"
    return base.rstrip("/") + "/" + params.path.lstrip("/")


def _resolve_url(params: Any, ctx: StepContext) -> str:
    if params.url:
        return params.url
    target = ctx.target(params.target)
    base = target.get("url")
    if not base:
        raise ActionFailed(f"target {params.target!r} has no url")
    return base.rstrip("/") + "/" + params.path.lstrip("/")


@dataclass(frozen=True)
class RequestParams:
    url: str | None = None
    target: str | None = None
    path: str = "/"
    method: str = "GET"
    expect_status: int = 200
    body: str | None = None
    timeout: float = 10.0
    # Header name -> name of the worker's environment variable holding its value: a token is
    # referred to, never written into the runbook (and is redacted from the step's evidence).
    headers_from_env: dict[str, str] | None = None

    def validate(self) -> None:
        if not self.url and not self.target:
            raise ParamError("url", "give either url or target (an http target of the system)")
        if self.url:
            _check_url(self.url)
        for header, variable in (self.headers_from_env or {}).items():
            if not isinstance(variable, str) or not variable.strip():
                raise ParamError("headers_from_env", f"header {header!r} must name an environment variable")
        if self.method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}:
            raise ParamError("method", f"must be an HTTP method, got {self.method!r}")
        require_positive("timeout", self.timeout)


class HttpRequest(Action[RequestParams]):
    name = "http.request"
    summary = "Send one HTTP request and expect a status code."
    Params = RequestParams
    target_kind = "http"
    changes = "whatever the endpoint does; the request carries an Idempotency-Key stable across redeliveries"

    def call_timeout(self, params: RequestParams) -> float:
        return params.timeout + 1

    def describe(self, params: RequestParams, targets: dict[str, dict[str, Any]]) -> str:
        return f"sends {params.method} {_described_url(params, targets)} and expects HTTP {params.expect_status}"

    def touches(self, params: RequestParams, ctx: StepContext) -> list[Any]:
        return [UrlAccess(_resolve_url(params, ctx)),
                *(EnvAccess(variable) for variable in (params.headers_from_env or {}).values())]

    def plan(self, params: RequestParams, ctx: StepContext) -> dict[str, Any]:
        url = _resolve_url(params, ctx)
        return {"would": f"{params.method.upper()} {url}, expecting {params.expect_status}"}

    def run(self, params: RequestParams, ctx: StepContext) -> Outcome:
        url = _resolve_url(params, ctx)
        # A worker killed mid-request is redelivered; the key lets the endpoint recognise the retry.
        headers = {"Idempotency-Key": ctx.idempotency_key, "User-Agent": "drdrill"}
        if params.body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(headers_from_environment(params.headers_from_env or {}))
        result = probe(url, method=params.method.upper(), body=params.body, headers=headers,
                       timeout=params.timeout, expect_status=params.expect_status)
        evidence = {"url": url, "method": params.method.upper(), "status": result.status, "response": result.detail}
        if not result.ok:
            got = result.status if result.status is not None else result.detail
            raise ActionFailed(f"{params.method.upper()} {url} answered {got}, expected {params.expect_status}")
        return Done(evidence=evidence)


@dataclass(frozen=True)
class WaitHealthyParams:
    url: str | None = None
    target: str | None = None
    path: str = "/"
    expect_status: int = 200
    interval: float = 1.0
    consecutive: int = 3
    probe_timeout: float = 2.0

    def validate(self) -> None:
        if not self.url and not self.target:
            raise ParamError("url", "give either url or target (an http target of the system)")
        if self.url:
            _check_url(self.url)
        require_positive("interval", self.interval)
        require_positive("consecutive", self.consecutive)
        require_positive("probe_timeout", self.probe_timeout)


class HttpWaitHealthy(Action[WaitHealthyParams]):
    name = "http.wait_healthy"
    summary = "Probe a URL every interval until it answers healthy N times in a row (the RTO's 'restored')."
    Params = WaitHealthyParams
    target_kind = "http"
    phase = "verify"
    changes = "nothing (read-only probes)"

    def call_timeout(self, params: WaitHealthyParams) -> float:
        return PROBE_BURST_SECONDS + params.interval + params.probe_timeout + 1

    def describe(self, params: WaitHealthyParams, targets: dict[str, dict[str, Any]]) -> str:
        return (f"probes {_described_url(params, targets)} every {params.interval:g} s until it answers HTTP "
                f"{params.expect_status} {params.consecutive} times in a row")

    def touches(self, params: WaitHealthyParams, ctx: StepContext) -> list[Any]:
        return [UrlAccess(_resolve_url(params, ctx))]

    def plan(self, params: WaitHealthyParams, ctx: StepContext) -> dict[str, Any]:
        url = _resolve_url(params, ctx)
        return {"would": f"probe {url} every {params.interval} s until {params.consecutive} successes in a row"}

    def run(self, params: WaitHealthyParams, ctx: StepContext) -> Outcome:
        return self.poll(params, ctx)

    def poll(self, params: WaitHealthyParams, ctx: StepContext) -> Outcome:
        url = _resolve_url(params, ctx)

        def probe_once() -> tuple[bool, str, dict[str, Any]]:
            result = probe(url, timeout=params.probe_timeout, expect_status=params.expect_status)
            return result.ok, result.detail, {"status": result.status}

        return probe_until_healthy(probe_once, ctx, address=url, interval=params.interval,
                                   consecutive=params.consecutive,
                                   method="health probe: first success of a run of consecutive successes")
