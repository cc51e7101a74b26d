"""Structured logs: one JSON object a line, carrying the ids of the drill, step run, Celery task
and trace the line belongs to, so a log search for ``drill_id=42`` finds everything about it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from drills.log_context import CONTEXT_FIELDS as DRILL_CONTEXT_FIELDS
from drills.log_context import current_log_context

from .tracing import trace_id_for_drill

CONTEXT_FIELDS = (*DRILL_CONTEXT_FIELDS, "trace_id")


class ContextFilter(logging.Filter):
    """Puts the ids of the drill being worked on (drills.log_context) on each record, and the
    drill's trace id, so a log line links to its trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_log_context()
        if context.get("drill_id"):
            context["trace_id"] = trace_id_for_drill(context["drill_id"])
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
