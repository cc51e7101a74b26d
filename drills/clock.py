"""The measurement clock. Every mark, probe and canary row is timed by the drdrill database's clock
where the database has one (PostgreSQL's clock_timestamp()), so workers on several hosts agree to the
database's precision whatever their own clocks say. SQLite is embedded: its clock is the host's."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

from django.db import connection


def db_now() -> datetime:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
    return datetime.now(timezone.utc)


def clock_description() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"PostgreSQL clock_timestamp() of {settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}"
    return f"system clock of host {socket.gethostname()} (embedded SQLite has no server clock)"
