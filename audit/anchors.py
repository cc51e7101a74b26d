"""Anchors: the audit trail's newest entry number and MAC, written somewhere the database's owner
cannot quietly rewrite (a file on another volume or host, syslog, a webhook), so removing the
newest entries is detected (``manage.py audit verify --anchor FILE``).

The sink is ``DRDRILL_AUDIT_ANCHOR``: ``file:///path/anchors.jsonl`` (one JSON line appended per
anchor), ``syslog://`` (the local syslog, facility auth) or ``https://…`` (a JSON POST)."""

from __future__ import annotations

import json
import logging
import logging.handlers
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from .services import anchor_now


class AnchorError(Exception):
    pass


def write_anchor(sink: str | None = None) -> dict[str, Any] | None:
    sink = sink if sink is not None else settings.AUDIT_ANCHOR
    if not sink:
        return None
    anchor = anchor_now()
    if anchor is None:
        return None
    line = json.dumps(anchor, sort_keys=True)
    parts = urlsplit(sink)
    if parts.scheme == "file":
        path = Path(parts.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(line + "\n")
    elif parts.scheme == "syslog":
        handler = logging.handlers.SysLogHandler(address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_AUTH)
        try:
            handler.emit(logging.makeLogRecord({"msg": f"drdrill audit anchor {line}", "levelno": logging.INFO,
                                                "levelname": "INFO"}))
        finally:
            handler.close()
    elif parts.scheme in ("http", "https"):
        request = urllib.request.Request(sink, data=line.encode(), method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "drdrill"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read(1024)
        except OSError as error:
            raise AnchorError(f"the anchor webhook {parts.netloc} did not take the anchor: {error}") from None
    else:
        raise AnchorError(f"DRDRILL_AUDIT_ANCHOR {sink!r}: use file:///path, syslog:// or https://…")
    return anchor


def read_anchors(path: Path) -> list[dict[str, Any]]:
    """Every anchor in a JSON-lines file (a copy of the file sink, or lines collected from syslog)."""
    anchors = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if "{" in line and not line.startswith("{"):
            line = line[line.index("{"):]  # a syslog line: the JSON follows the prefix
        try:
            anchors.append(json.loads(line))
        except json.JSONDecodeError:
            raise AnchorError(f"{path}, line {number}: not an anchor (a JSON object with entry and mac)") from None
    return anchors
