"""Where a change comes from: set per request by the middleware, per command by the CLI. The
services that record audit entries read it, so views need not pass it around."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Origin:
    source: str
    user_agent: str = ""
    # Who is acting in this request (Django's lazy request.user): changes Django itself makes, in
    # its admin for instance, are recorded with their actor through it.
    user: Any = None


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


def current_actor() -> Any:
    user = current_origin().user
    return user if getattr(user, "is_authenticated", False) else None


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    for proxy in settings.TRUSTED_PROXIES:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request: HttpRequest) -> str:
    """The client's address. X-Forwarded-For is anyone's to write: it is believed only when the
    connection comes from a proxy listed in DRDRILL_TRUSTED_PROXIES, and then only up to the first
    address that is not itself a trusted proxy (reading the header from the right)."""
    address = request.META.get("REMOTE_ADDR", "")
    if not _trusted(address):
        return address
    for hop in reversed([h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]):
        if not _trusted(hop):
            return hop
        address = hop
    return address


class AuditOriginMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _origin.set(Origin(source=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
                                   user=getattr(request, "user", None)))
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)
