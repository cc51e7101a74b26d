from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .roles import Capability, capabilities_of


def capabilities(request: HttpRequest) -> dict[str, Any]:
    """``can.coordinate`` and friends, so pages only offer what the person may do (the views
    check again: hiding a button is a courtesy, not a control)."""
    granted = capabilities_of(getattr(request, "user", None))
    return {"can": {capability.value: capability in granted for capability in Capability}}
