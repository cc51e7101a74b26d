"""An HTTP target as a system binds it: ``{kind: http, url: https://host/}``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

FIELDS = {"kind", "url"}


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    problems = [(key, "unknown field; an http target takes: url") for key in sorted(set(binding) - FIELDS)]
    url = binding.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        problems.append(("url", f"required: an http:// or https:// URL with a host, got {url!r}"))
    return problems
