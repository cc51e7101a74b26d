"""What a step on an HTTP target reaches: its URL (http or https only)."""

from __future__ import annotations

from typing import Any

from ..policy import Access, UrlAccess


def binding_access(binding: dict[str, Any]) -> list[Access]:
    return [UrlAccess(str(binding["url"]))] if binding.get("url") else []
