"""The canary writer for PostgreSQL targets: (drill, sequence, time) rows in a table of its own.

Point the canary at the target the applications use: a primary, or a multi-host target with
``target_session_attrs: read-write`` that follows whichever server is primary. After the recovery,
the newest row of the drill that survived there gives the RPO (docs/measurement.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ..base import ActionFailed
from .target import PgTarget, in_recovery

CANARY_TABLE = "drdrill_canary"
CREATE = sql.SQL("CREATE TABLE IF NOT EXISTS {} (drill_id integer NOT NULL, seq integer NOT NULL, "
                 "written_at timestamptz NOT NULL, PRIMARY KEY (drill_id, seq))").format(sql.Identifier(CANARY_TABLE))
INSERT = sql.SQL("INSERT INTO {} (drill_id, seq, written_at) VALUES (%s, %s, %s) "
                 "ON CONFLICT (drill_id, seq) DO UPDATE SET written_at = excluded.written_at").format(
    sql.Identifier(CANARY_TABLE))
NEWEST = sql.SQL("SELECT seq, written_at FROM {} WHERE drill_id = %s ORDER BY seq DESC LIMIT 1").format(
    sql.Identifier(CANARY_TABLE))


class PostgresCanary:
    def __init__(self, binding: dict[str, Any]) -> None:
        self.target = PgTarget("canary", binding)

    def describe(self) -> str:
        return f"postgres {self.target.address} table {CANARY_TABLE}"

    def check(self) -> None:
        with self.target.connect() as conn:
            if in_recovery(conn):
                raise ActionFailed(f"{self.target.address} is a standby (read-only): point the canary at the primary, or "
                                   "at a multi-host target with target_session_attrs: read-write")
            conn.execute(CREATE)

    def write(self, drill_id: int, seq: int, written_at: datetime) -> None:
        try:
            with self.target.connect() as conn:
                try:
                    conn.execute(INSERT, (drill_id, seq, written_at))
                except psycopg.errors.UndefinedTable:
                    conn.execute(CREATE)
                    conn.execute(INSERT, (drill_id, seq, written_at))
        except psycopg.Error as error:
            raise ActionFailed(f"canary write to {self.target.address} failed: {' '.join(str(error).split())}") from None

    def newest(self, drill_id: int) -> dict[str, Any] | None:
        try:
            with self.target.connect() as conn:
                row = conn.execute(NEWEST, (drill_id,)).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        except psycopg.Error as error:
            raise ActionFailed(f"cannot read the canary from {self.target.address}: "
                               f"{' '.join(str(error).split())}") from None
        return {"seq": row[0], "written_at": row[1].isoformat()} if row else None
