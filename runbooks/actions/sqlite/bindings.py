"""A SQLite target as a system binds it: ``{kind: sqlite, path: /abs/path.sqlite3}``."""

from __future__ import annotations

from typing import Any

FIELDS = {"kind", "path"}


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    problems = [(key, "unknown field; a sqlite target takes: path") for key in sorted(set(binding) - FIELDS)]
    path = binding.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        problems.append(("path", f"required: the absolute path of the database file, got {path!r}"))
    elif "\x00" in path:
        problems.append(("path", "must not contain a NUL character"))
    return problems
