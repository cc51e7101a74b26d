"""Demo data: an admin user, the demo orders system bound to a real SQLite file and the local
orders service, and the example runbooks."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from runbooks.services import ImportReport, import_runbooks, read_sources

from .estate import EstateReport, generate_estate
from .orders_service import create_database

EXAMPLES = Path(settings.BASE_DIR) / "runbooks" / "examples"


def demo_paths() -> tuple[Path, int]:
    return Path(settings.DATA_DIR) / "demo" / "orders.sqlite3", int(os.environ.get("DRDRILL_DEMO_PORT", "8765"))


def demo_url(port: int) -> str:
    # docker-compose runs the orders service in a container of its own, reached by name.
    return os.environ.get("DRDRILL_DEMO_URL", f"http://127.0.0.1:{port}")


def seed(*, admin_username: str = "admin", admin_password: str | None = None,
         create_admin: bool = True) -> tuple[ImportReport, str | None, EstateReport]:
    """Idempotent: running it again changes nothing, and it only creates what is missing — existing
    systems, runbooks and scenarios are left as a person may have changed them. Returns the
    import report, the admin user's password when it was created, and what the estate added."""
    db_path, port = demo_paths()
    create_database(db_path)
    system_yaml = f"""
systems:
  - slug: demo-orders
    name: Demo orders service
    description: A small orders service on a SQLite file, to try drdrill with.
    owner: drdrill demo
    environment: demo
    tier: 2
    rto_target: 2m
    rpo_target: 1m
    targets:
      db: {{kind: sqlite, path: "{db_path}"}}
      web: {{kind: http, url: "{demo_url(port)}"}}
"""
    sources = [("demo system", system_yaml)] + read_sources(EXAMPLES / "demo")
    # Only what is missing: a runbook version a person imported, or a binding an administrator
    # changed, survives every restart of `make run` (which seeds on each start).
    report = import_runbooks(sources=sources, only_missing=True)
    created_password = None
    users = get_user_model().objects
    if create_admin and not users.filter(username=admin_username).exists():
        created_password = admin_password or os.environ.get("DRDRILL_ADMIN_PASSWORD", "drdrill-demo")
        users.create_superuser(admin_username, email="", password=created_password)
    # The demo estate: a programme worth looking at on first start (docs/programme.md#the-demo).
    return report, created_password, generate_estate()
