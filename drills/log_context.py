"""The ids of the drill and step a piece of work belongs to, for every log line written inside it.
observability formats them (with the drill's trace id); drills only says which drill it is working on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

CONTEXT_FIELDS = ("drill_id", "step_run_id", "task_id")
_context: ContextVar[dict[str, Any]] = ContextVar("drdrill_log_context", default={})


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Add ids to every log line written inside the block (nested blocks add to the outer ones)."""
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, Any]:
    return dict(_context.get())
