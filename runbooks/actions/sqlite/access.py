"""What a step on a SQLite target reaches: the database file (read and written)."""

from __future__ import annotations

from typing import Any

from ..policy import Access, FileAccess


def binding_access(binding: dict[str, Any]) -> list[Access]:
    return [FileAccess(str(binding["path"]), write=True, purpose="the database")] if binding.get("path") else []
