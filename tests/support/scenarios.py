"""The systems and runbooks tests drill: the demo orders service on a test's own SQLite file, and
runbooks around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
BACKUP_RESTORE_EXAMPLE = ROOT / "runbooks" / "examples" / "demo" / "orders-backup-restore.yaml"
ORDERS_TOKEN_VARIABLE = "ORDERS_API_TOKEN"
ORDERS_TOKEN = "tok-7f3a9c1e5b2d4f60"


def orders_system_yaml(db_path: Path, url: str, **overrides: Any) -> str:
    tier = overrides.get("tier", 2)
    return f"""
systems:
  - slug: orders
    name: Orders
    environment: staging
    tier: {tier}
    rto_target: {overrides.get('rto_target', '2m')}
    rpo_target: {overrides.get('rpo_target', '1m')}
    targets:
      db: {{kind: sqlite, path: "{db_path}"}}
      web: {{kind: http, url: "{url}"}}
"""


def backup_restore_runbook_yaml() -> str:
    """The demo's backup-restore runbook, for the test's ``orders`` system."""
    return BACKUP_RESTORE_EXAMPLE.read_text().replace("system: demo-orders", "system: orders")


def system_and_runbook(db_path, url: str, steps: str, slug: str = "drill-under-test") -> tuple[str, str]:
    runbook = f"""
runbooks:
  - slug: {slug}
    title: Drill under test
    system: orders
    kind: partial_failover
    steps:
{steps}
"""
    return orders_system_yaml(db_path, url), runbook


TABLETOP_EXAMPLE = ROOT / "runbooks" / "examples" / "demo" / "orders-tabletop.yaml"


def tabletop_runbook_yaml() -> str:
    """The demo's tabletop runbook (manual steps marking outage_start and service_restored), for ``orders``."""
    return TABLETOP_EXAMPLE.read_text().replace("system: demo-orders", "system: orders")


def region_lost_scenario_yaml(**at: str) -> str:
    """A scenario for ``orders`` with one inject the facilitator releases and one released at T+``at``."""
    return f"""
scenarios:
  - slug: region-lost
    title: Primary region lost
    system: orders
    description: The primary region is gone; the team recovers orders in the second region.
    injects:
      - key: status-page
        title: The status page is down too
        message: Customers cannot see the status page; tell them another way.
      - key: dba-away
        title: The DBA is on a plane
        message: Nobody who knows the restore by heart is reachable.
        at: {at.get('dba_away', '30m')}
"""
