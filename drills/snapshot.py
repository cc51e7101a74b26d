"""What a drill is pinned to, resolved once when it is created: the runbook version, the system's
environment, targets and the target bindings its steps will use (secrets by reference only). The
workers act on this snapshot, never on the live inventory, and an approval is recorded against its
digest: re-binding or re-classifying a system after a drill was approved changes nothing the drill
does."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from runbooks.models import RunbookVersion


def take(version: RunbookVersion) -> dict[str, Any]:
    system = version.runbook.system
    return {
        "runbook": version.runbook.slug,
        "version": version.number,
        "version_hash": version.content_hash,
        "system": system.slug,
        "environment": system.environment,
        "tier": system.tier,
        "rto_target_seconds": system.rto_target_seconds,
        "rpo_target_seconds": system.rpo_target_seconds,
        "targets": system.targets,
    }


def digest(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
