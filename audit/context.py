"""Where a change comes from: set per request by the middleware, per command by the CLI. The
services that record audit entries read it, so views need not pass it around."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Origin:
    source: str
    user_agent: str = ""


_origin: ContextVar[Origin | None] = ContextVar("drdrill_audit_origin", default=None)


def current_origin() -> Origin:
    return _origin.get() or Origin(source=f"process:{socket.gethostname()}")


@contextmanager
def audit_origin(source: str) -> Iterator[None]:
    """For commands: ``with audit_origin("cli:alice@host"): ...``."""
    token = _origin.set(Origin(source=source[:200]))
    try:
        yield
    finally:
        _origin.reset(token)


def client_ip(request: HttpRequest) -> str:
    # Behind the one reverse proxy of docs/operations.md; REMOTE_ADDR is the proxy otherwise.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return (forwarded.split(",")[-1].strip() if forwarded else "") or request.META.get("REMOTE_ADDR", "")


class AuditOriginMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _origin.set(Origin(source=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:300]))
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)
