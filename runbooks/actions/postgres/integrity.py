"""Data-integrity checks chosen in the runbook: row counts and checksums of named tables, taken as a
baseline before the outage and compared after the recovery.

The checksum is the sum of every row's hash (the first 60 bits of md5 of the row's text): it does not
depend on row order or on the collation, counts duplicate rows, and needs no memory for big tables.
All tables are read in one statement, so they are summed from one snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ..base import Action, ActionFailed, Done, Outcome, ParamError, StepContext
from .target import QUALIFIED_NAME, PgTarget, described_target, table_identifier

CHECKSUM_METHOD = "count(*) and sum of the first 60 bits of md5(row::text) over all rows"
TABLE_SUMMARY = sql.SQL("SELECT {name}, count(*), "
                        "coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text "
                        "FROM {table} AS t")


def _check_tables(field_name: str, tables: list[str] | None) -> None:
    if tables is None:
        return
    if not tables:
        raise ParamError(field_name, "name at least one table")
    for name in tables:
        if not QUALIFIED_NAME.match(name):
            raise ParamError(field_name, f"{name!r} is not a table name (write table or schema.table)")


def summarise(target: PgTarget, tables: list[str], timeout: int) -> dict[str, dict[str, Any]]:
    query = sql.SQL(" UNION ALL ").join(
        TABLE_SUMMARY.format(name=sql.Literal(name), table=table_identifier(name)) for name in tables)
    try:
        with target.connect(statement_timeout_ms=timeout * 1000) as conn:
            rows = conn.execute(query).fetchall()
    except psycopg.errors.UndefinedTable as error:
        raise ActionFailed(f"target {target.name!r}: {' '.join(str(error).split())}") from None
    except psycopg.errors.QueryCanceled:
        raise ActionFailed(f"target {target.name!r}: summing {', '.join(tables)} took longer than {timeout} s; raise "
                           "params.timeout or choose smaller tables") from None
    return {name: {"rows": count, "checksum": checksum} for name, count, checksum in rows}


@dataclass(frozen=True)
class BaselineParams:
    target: str
    tables: list[str]
    timeout: int = 60

    def validate(self) -> None:
        _check_tables("tables", self.tables)


class PostgresBaseline(Action[BaselineParams]):
    name = "postgres.baseline"
    summary = "Record row counts and checksums of named tables, for postgres.verify to compare after recovery."
    Params = BaselineParams
    target_kind = "postgres"
    phase = "verify"
    changes = "nothing (reads the tables)"

    def call_timeout(self, params: BaselineParams) -> float:
        return params.timeout + 10

    def describe(self, params: BaselineParams, targets: dict[str, dict[str, Any]]) -> str:
        return f"records row counts and checksums of {', '.join(params.tables)} on {described_target(params.target, targets)}"

    def plan(self, params: BaselineParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        with target.connect() as conn:
            missing = [t for t in params.tables if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] is None]
        if missing:
            raise ActionFailed(f"target {params.target!r} has no table {', '.join(missing)}")
        return {"would": f"count and checksum {', '.join(params.tables)} at {target.address}"}

    def run(self, params: BaselineParams, ctx: StepContext) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        return Done(evidence={
            "baseline_of": params.target,
            "address": target.address,
            "taken_at": ctx.now().isoformat(),
            "checksum_method": CHECKSUM_METHOD,
            "tables": summarise(target, params.tables, params.timeout),
        })


@dataclass(frozen=True)
class VerifyParams:
    target: str
    tables: list[str] | None = None
    baseline: str | None = None
    timeout: int = 60

    def validate(self) -> None:
        _check_tables("tables", self.tables)


class PostgresVerify(Action[VerifyParams]):
    name = "postgres.verify"
    summary = "Compare row counts and checksums of named tables with the postgres.baseline taken earlier in the drill."
    Params = VerifyParams
    target_kind = "postgres"
    phase = "verify"
    changes = "nothing (reads the tables)"

    def call_timeout(self, params: VerifyParams) -> float:
        return params.timeout + 10

    def describe(self, params: VerifyParams, targets: dict[str, dict[str, Any]]) -> str:
        tables = ", ".join(params.tables) if params.tables else "the baseline's tables"
        return f"compares {tables} on {described_target(params.target, targets)} with the baseline"

    def plan(self, params: VerifyParams, ctx: StepContext) -> dict[str, Any]:
        target = PgTarget.of(ctx, params.target)
        target.password()
        which = f"step {params.baseline!r}" if params.baseline else "the latest postgres.baseline step"
        tables = ", ".join(params.tables) if params.tables else "every table of the baseline"
        return {"would": f"compare {tables} at {target.address} with the baseline of {which}"}

    def run(self, params: VerifyParams, ctx: StepContext) -> Outcome:
        target = PgTarget.of(ctx, params.target)
        baseline_key, baseline = self._baseline(params, ctx)
        tables = params.tables or list(baseline["tables"])
        absent = [t for t in tables if t not in baseline["tables"]]
        if absent:
            raise ActionFailed(f"the baseline of step {baseline_key!r} has no figures for {', '.join(absent)}")
        now = summarise(target, tables, params.timeout)
        compared: dict[str, dict[str, Any]] = {}
        differences = []
        for name in tables:
            before, after = baseline["tables"][name], now[name]
            matches = before == after
            compared[name] = {"baseline_rows": before["rows"], "rows": after["rows"],
                              "baseline_checksum": before["checksum"], "checksum": after["checksum"], "matches": matches}
            if before["rows"] != after["rows"]:
                differences.append(f"{name} has {after['rows']} rows, the baseline {before['rows']}")
            elif not matches:
                differences.append(f"{name} has the baseline's {after['rows']} rows but different content (checksum)")
        if differences:
            raise ActionFailed(f"target {params.target!r} differs from the baseline of step {baseline_key!r}: "
                               + "; ".join(differences))
        return Done(evidence={"verified": params.target, "address": target.address, "baseline_step": baseline_key,
                              "baseline_taken_at": baseline["taken_at"], "checked_at": ctx.now().isoformat(),
                              "checksum_method": CHECKSUM_METHOD, "tables": compared})

    def _baseline(self, params: VerifyParams, ctx: StepContext) -> tuple[str, dict[str, Any]]:
        if params.baseline:
            evidence = ctx.earlier.get(params.baseline)
            if not evidence or "baseline_of" not in evidence or evidence.get("checksum_method") != CHECKSUM_METHOD:
                raise ActionFailed(f"no postgres.baseline step with key {params.baseline!r} finished earlier in this drill")
            return params.baseline, evidence
        found = [(key, ev) for key, ev in ctx.earlier.items() if ev.get("checksum_method") == CHECKSUM_METHOD
                 and "baseline_of" in ev]
        if not found:
            raise ActionFailed("no postgres.baseline step finished earlier in this drill; add one before the outage")
        return found[-1]
