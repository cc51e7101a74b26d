"""Point-in-time restore of an Azure SQL database into a new database on the same server.

The restore point is checked against the source's earliest restore point (its backup retention)
before anything is created. The new database is tagged with the drill (so a lost drill's database
is still found as an orphan) and reported to the engine as created, with a time to live, the moment
the create is accepted. A redelivered ``run()`` that finds the database already there with this
drill's tag follows it instead of creating a second one.

RPO: the step records the point in time the data was restored to (``rpo_recovered_to``); the
measurement takes outage_start − that point, so the figure is what this restore would lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..base import (
    Action,
    ActionFailed,
    CreatedResource,
    Done,
    Outcome,
    ParamError,
    PollAgain,
    StepContext,
    require_positive,
)
from . import arm
from .bindings import DATABASE, DATABASE_NAME, AzureSqlTarget

DEFAULT_TTL_SECONDS = 6 * 3600
ONLINE = "Online"
RPO_METHOD = "point-in-time restore: outage_start − the point in time the database was restored to (Azure's restorePointInTime)"


@dataclass(frozen=True)
class RestoreParams:
    target: str
    point_in_time: str | None = None   # ISO 8601 with a UTC offset, e.g. 2026-03-01T10:15:00+00:00
    seconds_ago: float | None = None   # or: this long before the step runs
    new_database: str | None = None    # default: <database>-drill-<drill id>
    ttl_seconds: float | None = DEFAULT_TTL_SECONDS  # deleted after this long unless a cleanup step does it first
    interval: float = 15.0
    request_timeout: float = 20.0

    def validate(self) -> None:
        if (self.point_in_time is None) == (self.seconds_ago is None):
            raise ParamError("point_in_time", "give either point_in_time (an ISO 8601 time) or seconds_ago, not both or neither")
        if self.point_in_time is not None:
            try:
                parsed = datetime.fromisoformat(self.point_in_time)
            except ValueError:
                raise ParamError("point_in_time", f"must be an ISO 8601 time such as 2026-03-01T10:15:00+00:00, "
                                                  f"got {self.point_in_time!r}") from None
            if parsed.tzinfo is None:
                raise ParamError("point_in_time", "must carry its UTC offset (…+00:00 or …Z), so it names one moment")
        if self.seconds_ago is not None and self.seconds_ago < 0:
            raise ParamError("seconds_ago", f"must be zero or more, got {self.seconds_ago}")
        if self.new_database is not None and not DATABASE_NAME.match(self.new_database):
            raise ParamError("new_database", f"is not a valid Azure SQL database name: {self.new_database!r}")
        require_positive("ttl_seconds", self.ttl_seconds)
        require_positive("interval", self.interval)
        require_positive("request_timeout", self.request_timeout)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


class RestorePointInTime(Action[RestoreParams]):
    name = "azure.sql.restore_point_in_time"
    summary = "Restore an Azure SQL database to a point in time, as a new database on the same server."
    Params = RestoreParams
    target_kind = DATABASE
    changes = "creates a new database (tagged with the drill, deleted when its time to live ends)"

    def call_timeout(self, params: RestoreParams) -> float:
        return arm.call_budget(params.request_timeout)

    def describe(self, params: RestoreParams, targets: dict[str, dict[str, Any]]) -> str:
        binding = targets.get(params.target, {})
        database = binding.get("database", params.target)
        when = params.point_in_time or f"{params.seconds_ago:g} s before the step runs"
        keep = f"deleted after {params.ttl_seconds:g} s unless a cleanup step deletes it first" if params.ttl_seconds else "kept"
        return (f"Creates database {params.new_database or f'{database}-drill-<drill id>'} on server "
                f"{binding.get('server', '?')} from {database} as it was at {when} (point-in-time restore); "
                f"the source is not changed; the new database is {keep}.")

    def _restore_point(self, params: RestoreParams, ctx: StepContext) -> datetime:
        if params.point_in_time is not None:
            return datetime.fromisoformat(params.point_in_time)
        # From the step's first start, not from now: every attempt of the step names the same point.
        return (ctx.started_at or ctx.now()) - timedelta(seconds=params.seconds_ago or 0)

    def _new_name(self, params: RestoreParams, target: AzureSqlTarget, ctx: StepContext) -> str:
        return params.new_database or f"{target.object_name}-drill-{ctx.drill_id}"

    def _source(self, target: AzureSqlTarget, params: RestoreParams, point: datetime, ctx: StepContext) -> dict[str, Any]:
        """The source database and its restore window; refuses a point outside it."""
        server = target.server
        try:
            with arm.sql_client(server.subscription_id, request_timeout=params.request_timeout) as client:
                source = client.databases.get(server.resource_group, server.name, target.object_name)
        except arm.AzureError as error:
            raise arm.failure(error, f"reading database {target.object_name} on server {server.name}") from None
        earliest = source.earliest_restore_date
        facts = {"source_database_id": source.id, "source_status": getattr(source.status, "value", source.status), "location": source.location,
                 "earliest_restore_date": _iso(earliest) if earliest else None, "restore_point": _iso(point),
                 "read_at": _iso(ctx.now())}
        if earliest is None:
            raise ActionFailed(f"database {target.object_name} on server {server.name} reports no earliest restore "
                               "point (no backup yet?); nothing was restored")
        if point < earliest:
            raise ActionFailed(f"restore point {_iso(point)} is before the earliest restore point of database "
                               f"{target.object_name} on server {server.name} ({_iso(earliest)}): outside its backup "
                               "retention; nothing was restored")
        if point > ctx.now():
            raise ActionFailed(f"restore point {_iso(point)} is in the future; nothing was restored")
        return facts

    def _existing(self, target: AzureSqlTarget, name: str, params: RestoreParams) -> Any:
        server = target.server
        try:
            with arm.sql_client(server.subscription_id, request_timeout=params.request_timeout) as client:
                return client.databases.get(server.resource_group, server.name, name)
        except arm.AzureError as error:
            if arm.is_not_found(error):
                return None
            raise arm.failure(error, f"reading database {name} on server {server.name}") from None

    def plan(self, params: RestoreParams, ctx: StepContext) -> dict[str, Any]:
        target = AzureSqlTarget.of(ctx, params.target, DATABASE)
        point = self._restore_point(params, ctx)
        source = self._source(target, params, point, ctx)
        name = self._new_name(params, target, ctx)
        if self._existing(target, name, params) is not None:
            raise ActionFailed(f"a database named {name} already exists on server {target.server.name}; "
                               "name another with new_database")
        return {"would": f"create database {name} on {target.server.name} from {target.object_name} as it was at "
                         f"{_iso(point)}", "source": source}

    def _created(self, params: RestoreParams, target: AzureSqlTarget, name: str, ctx: StepContext) -> CreatedResource:
        server = target.server
        return CreatedResource(provider="azure", kind="sql-database", identifier=f"{server.resource_id()}/databases/{name}",
                               target=params.target, region=server.location, account=server.subscription_id,
                               ttl_seconds=params.ttl_seconds,
                               details={"drill": str(ctx.drill_id), "database": name, "server": server.name,
                                        "resource_group": server.resource_group})

    def run(self, params: RestoreParams, ctx: StepContext) -> Outcome:
        target = AzureSqlTarget.of(ctx, params.target, DATABASE)
        server = target.server
        name = self._new_name(params, target, ctx)
        created = self._created(params, target, name, ctx)
        existing = self._existing(target, name, params)
        if existing is not None and (existing.tags or {}).get("drdrill:drill") != str(ctx.drill_id):
            raise ActionFailed(f"a database named {name} already exists on server {server.name} and this drill did "
                               "not create it; nothing was changed (name another with new_database)")
        point = self._restore_point(params, ctx)
        source = self._source(target, params, point, ctx)
        if existing is not None:
            # Our lost attempt's create was accepted: follow the database itself, start nothing.
            state = {"adopted": True, "database": name, "started_at": _iso(ctx.now()), "looks": 0, "source": source}
            return PollAgain(after_seconds=params.interval, state=state, created=(created,))
        body = {"location": server.location, "tags": ctx.drill_tag,
                "properties": {"createMode": "PointInTimeRestore", "sourceDatabaseId": source["source_database_id"],
                               "restorePointInTime": _iso(point)}}
        started_at = _iso(ctx.now())
        with arm.sql_client(server.subscription_id, request_timeout=params.request_timeout) as client:
            started = arm.start(client.databases.begin_create_or_update, server.resource_group, server.name, name, body,
                                doing=f"point-in-time restore of {target.object_name} into {name} on server {server.name}",
                                interval=params.interval)
        state = {"token": started.token, "database": name, "started_at": started_at, "looks": 0, "source": source}
        return PollAgain(after_seconds=started.next_look_after, state=state, created=(created,),
                         evidence={"operation": "point-in-time restore", "started_at": started_at, "source": source,
                                   "new_database_id": created.identifier})

    def poll(self, params: RestoreParams, ctx: StepContext) -> Outcome:
        target = AzureSqlTarget.of(ctx, params.target, DATABASE)
        server = target.server
        state = dict(ctx.state)
        name = state["database"]
        created = self._created(params, target, name, ctx)
        state["looks"] += 1
        if state.get("adopted"):
            database = self._existing(target, name, params)
            if database is None:
                raise ActionFailed(f"database {name} on server {server.name} disappeared while it was being restored")
            if database.status != ONLINE:
                return PollAgain(after_seconds=params.interval, state=state,
                                 evidence={"database_status": database.status, "looks": state["looks"]})
        else:
            with arm.sql_client(server.subscription_id, request_timeout=params.request_timeout) as client:
                seen = arm.look(client.databases.begin_create_or_update, server.resource_group, server.name, name, {},
                                token=state["token"], interval=params.interval,
                                doing=f"point-in-time restore of {target.object_name} into {name} on server {server.name}")
            if not seen.finished:
                return PollAgain(after_seconds=seen.next_look_after, state=state,
                                 evidence={"operation": "point-in-time restore", "status": seen.status,
                                           "looks": state["looks"], "source": state["source"]})
            database = seen.result
        # Azure does not report a database's restore point back (restorePointInTime is create-only):
        # the point is the one this step asked for, after checking it against the restore window.
        restored_to = state["source"]["restore_point"]
        evidence = {
            "operation": "point-in-time restore", "started_at": state["started_at"], "finished_at": _iso(ctx.now()),
            "looks": state["looks"], "attempt": ctx.attempt, "adopted_after_a_lost_attempt": bool(state.get("adopted")),
            "source": state.get("source"), "new_database": name, "new_database_id": created.identifier,
            "database_status": getattr(database.status, "value", database.status), "tags": dict(database.tags or {}),
            "rpo_recovered_to": restored_to, "rpo_method": RPO_METHOD,
        }
        return Done(evidence=evidence, created=(created,))
