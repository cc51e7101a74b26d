"""Structured logs: one JSON object a line, carrying the ids of the drill, step run, Celery task
and trace the line belongs to, so a log search for ``drill_id=42`` finds everything about it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

CONTEXT_FIELDS = ("drill_id", "step_run_id", "task_id", "trace_id")
_context: ContextVar[dict[str, Any]] = ContextVar("drdrill_log_context", default={})


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Add ids to every log line written inside the block (nested blocks add to the outer ones)."""
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name) and name in context:
                setattr(record, name, context[name])
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, "event"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
