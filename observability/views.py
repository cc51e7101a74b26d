"""``/metrics`` for Prometheus: a scraper presents ``Authorization: Bearer $DRDRILL_METRICS_TOKEN``;
a signed-in person with the view capability may read it too. Nothing is public."""

from __future__ import annotations

import hmac
import os

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from accounts.roles import Capability, user_can

from .metrics import DrillCollector

registry = CollectorRegistry(auto_describe=False)
registry.register(DrillCollector())


def _bearer_token_ok(request: HttpRequest) -> bool:
    expected = os.environ.get("DRDRILL_METRICS_TOKEN", "")
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


@require_GET
@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    if not _bearer_token_ok(request):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user_can(request.user, Capability.VIEW):
            raise PermissionDenied("Reading metrics needs the view capability or the metrics token.")
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


metrics.required_capability = Capability.VIEW  # type: ignore[attr-defined]  (or the bearer token)
