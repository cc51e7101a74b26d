"""The execution policy of this worker process (runbooks/actions/policy.py), built from the file its
operator wrote (``DRDRILL_WORKER_POLICY``) and from drdrill's own paths, which no policy can open:
the database, the data folder (but for its demo area), the secret key, the static files, the code."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import connection

from runbooks.actions.policy import POLICY_VARIABLE, WorkerPolicy

_cache: dict[tuple[str, float], WorkerPolicy] = {}


def demo_area() -> Path:
    return Path(settings.DATA_DIR) / "demo"


def protected_paths() -> list[Path]:
    paths = [Path(settings.DATA_DIR), Path(settings.BASE_DIR), Path(settings.STATIC_ROOT),
             *(Path(p) for p in settings.STATICFILES_DIRS)]
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        paths += [Path(name), Path(f"{name}-wal"), Path(f"{name}-shm")]
    return paths


def worker_policy() -> WorkerPolicy:
    """Read again when the file changes (an operator's edit takes effect at the next step)."""
    path = os.environ.get(POLICY_VARIABLE, "")
    try:
        stamp = os.stat(path).st_mtime if path else 0.0
    except OSError:
        stamp = -1.0  # a missing file refuses every step below, with the reason
    key = (path, stamp)
    if key not in _cache:
        _cache.clear()
        if path:
            _cache[key] = WorkerPolicy.from_file(Path(path), protected=protected_paths(),
                                                 protected_exceptions=[demo_area()])
        else:
            _cache[key] = WorkerPolicy.default(demo_area=demo_area(), protected=protected_paths())
    return _cache[key]
