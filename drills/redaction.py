"""Secrets never reach the database or the logs. Bindings and runbooks refer to secrets by the
name of an environment variable; whatever an action echoes back (a response body, an error
message) is scrubbed of those values before it is stored, and log records are scrubbed too."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

# Environment variables whose names say they hold a secret are scrubbed even when no binding
# refers to them: a step might read them some other way.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
# Shorter values would redact common words; secrets are longer than this.
MIN_SECRET_LENGTH = 6


def referenced_variables(targets: dict[str, dict[str, Any]]) -> set[str]:
    names = set()
    for binding in targets.values():
        for key, value in binding.items():
            if key.endswith("_env") and isinstance(value, str):
                names.add(value)
    return names


def secret_values(targets: dict[str, dict[str, Any]] | None = None, extra_names: set[str] | None = None) -> dict[str, str]:
    """Secret value -> the name of the variable it came from."""
    names = {name for name in os.environ if SECRET_NAME.search(name)}
    names |= referenced_variables(targets or {}) | (extra_names or set())
    found = {}
    for name in names:
        value = os.environ.get(name, "")
        if len(value) >= MIN_SECRET_LENGTH:
            found[value] = name
    return found


def shorten(value: Any, limit: int) -> Any:
    """Every text in ``value`` cut to ``limit`` characters (call after ``redact``, never before)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {key: shorten(item, limit) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [shorten(item, limit) for item in value]
    return value


def redact(value: Any, secrets: dict[str, str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for secret, name in sorted(secrets.items(), key=lambda item: -len(item[0])):
            if secret in value:
                value = value.replace(secret, f"[redacted:{name}]")
        return value
    if isinstance(value, dict):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    return value


class RedactSecretsFilter(logging.Filter):
    """Scrubs log records of secret values from the environment."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values()
        if secrets:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                return True  # a malformed record is the logging module's to report
            redacted = redact(message, secrets)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True
