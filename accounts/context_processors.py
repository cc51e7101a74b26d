from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .roles import Capability, capabilities_of
from .services import role_granters


def capabilities(request: HttpRequest) -> dict[str, Any]:
    """``can.coordinate`` and friends, so pages only offer what the person may do (the views
    check again: hiding a button is a courtesy, not a control)."""
    user = getattr(request, "user", None)
    granted = capabilities_of(user)
    context: dict[str, Any] = {"can": {capability.value: capability in granted for capability in Capability}}
    if getattr(user, "is_authenticated", False) and not granted:
        # Signed in with no role: every page is refused, so the one page they get says whom to ask.
        context["role_granters"] = role_granters()
    return context
