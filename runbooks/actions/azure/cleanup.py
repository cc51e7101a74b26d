"""Deleting the Azure SQL databases a drill created, and finding those a lost drill left behind.

Three ways in, one deletion: the ``azure.cleanup`` step (it follows each delete operation through
its continuation token), the engine's sweep when a database's time to live ends
(``delete_resource``, called again until it reports the database gone), and ``manage.py resources
orphans`` (``find_orphans``: databases on a binding's servers carrying a drill tag).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..base import Action, ActionFailed, CreatedResource, Done, Outcome, PollAgain, StepContext, require_positive
from ..policy import CloudAccess
from . import arm
from .bindings import KINDS, AzureSqlTarget

DATABASE_ID = re.compile(r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/"
                         r"Microsoft\.Sql/servers/(?P<server>[^/]+)/databases/(?P<database>[^/]+)$", re.IGNORECASE)
DRILL_TAG = "drdrill:drill"
STEP_TAG = "drdrill:step"
CLEANER_REQUEST_TIMEOUT = 20.0


@dataclass(frozen=True)
class DatabaseId:
    subscription: str
    group: str
    server: str
    database: str

    @classmethod
    def parse(cls, identifier: str) -> DatabaseId:
        match = DATABASE_ID.match(identifier)
        if not match:
            raise ActionFailed(f"{identifier!r} is not an Azure SQL database resource id")
        return cls(**match.groupdict())


def _delete(where: DatabaseId, *, request_timeout: float, interval: float) -> arm.Started | None:
    """Start deleting a database; None if it is already gone."""
    doing = f"deleting database {where.database} on server {where.server}"
    with arm.sql_client(where.subscription, request_timeout=request_timeout) as client:
        try:
            client.databases.get(where.group, where.server, where.database)
        except arm.AzureError as error:
            if arm.is_not_found(error):
                return None
            raise arm.failure(error, doing) from None
        return arm.start(client.databases.begin_delete, where.group, where.server, where.database,
                         doing=doing, interval=interval)


def _look(where: DatabaseId, token: str, *, request_timeout: float, interval: float) -> arm.Look:
    with arm.sql_client(where.subscription, request_timeout=request_timeout) as client:
        return arm.look(client.databases.begin_delete, where.group, where.server, where.database, token=token,
                        doing=f"deleting database {where.database} on server {where.server}", interval=interval)


def delete_resource(resource: CreatedResource, binding: dict[str, Any]) -> bool:
    """The sweep's cleaner: True once the database is gone. Starts the delete and looks once; the
    sweep calls again later while Azure is still deleting (a repeated DELETE is accepted by ARM)."""
    if resource.kind != "sql-database":
        raise ActionFailed(f"the azure family deletes sql-database resources, not {resource.kind!r}")
    where = DatabaseId.parse(resource.identifier)
    started = _delete(where, request_timeout=CLEANER_REQUEST_TIMEOUT, interval=1.0)
    if started is None:
        return True
    return _look(where, started.token, request_timeout=CLEANER_REQUEST_TIMEOUT, interval=1.0).status == "Succeeded"


def find_orphans(binding: dict[str, Any]) -> list[CreatedResource]:
    """Databases on the binding's servers that carry a drill tag."""
    target = AzureSqlTarget.from_binding("orphan search", binding, binding.get("kind", ""))
    found = []
    for server in target.servers:
        doing = f"listing the databases of server {server.name}"
        try:
            with arm.sql_client(server.subscription_id, request_timeout=CLEANER_REQUEST_TIMEOUT) as client:
                databases = list(client.databases.list_by_server(server.resource_group, server.name))
        except arm.AzureError as error:
            raise arm.failure(error, doing) from None
        for database in databases:
            tags = database.tags or {}
            if DRILL_TAG in tags:
                found.append(CreatedResource(provider="azure", kind="sql-database", identifier=database.id,
                                             region=server.location, account=server.subscription_id,
                                             details={"drill": tags[DRILL_TAG], "step": tags.get(STEP_TAG, ""),
                                                      "database": database.name, "server": server.name}))
    return found


@dataclass(frozen=True)
class CleanupParams:
    target: str | None = None       # only what was created through this target; default: every Azure resource
    interval: float = 10.0
    request_timeout: float = 20.0

    def validate(self) -> None:
        require_positive("interval", self.interval)
        require_positive("request_timeout", self.request_timeout)


class Cleanup(Action[CleanupParams]):
    name = "azure.cleanup"
    summary = "Delete the Azure SQL databases earlier steps of this drill created (restored copies)."
    Params = CleanupParams
    phase = "verify"
    changes = "deletes the databases this drill created, nothing else"

    def call_timeout(self, params: CleanupParams) -> float:
        return arm.call_budget(params.request_timeout) * 2

    def describe(self, params: CleanupParams, targets: dict[str, dict[str, Any]]) -> str:
        through = f" through target {params.target}" if params.target else ""
        return (f"Deletes the Azure SQL databases this drill created{through} (restored copies); databases it did "
                "not create are never touched.")

    def _ours(self, params: CleanupParams, ctx: StepContext) -> list[CreatedResource]:
        if params.target is not None and ctx.target(params.target).get("kind") not in KINDS:
            raise ActionFailed(f"target {params.target!r} is not an Azure target")
        return [r for r in ctx.created_resources
                if r.provider == "azure" and (params.target is None or r.target == params.target)]

    def touches(self, params: CleanupParams, ctx: StepContext) -> list[Any]:
        """Without a target it deletes where earlier steps created: their subscriptions and regions."""
        return list(dict.fromkeys(CloudAccess("azure", r.account, r.region) for r in self._ours(params, ctx)))

    def plan(self, params: CleanupParams, ctx: StepContext) -> dict[str, Any]:
        ours = self._ours(params, ctx)
        return {"would": f"delete {len(ours)} database(s) this drill created" if ours else
                "delete the databases earlier steps create (none exist in a dry-run)",
                "resources": [r.identifier for r in ours]}

    def run(self, params: CleanupParams, ctx: StepContext) -> Outcome:
        deleting: dict[str, str] = {}
        gone: list[str] = []
        for resource in self._ours(params, ctx):
            started = _delete(DatabaseId.parse(resource.identifier), request_timeout=params.request_timeout,
                              interval=params.interval)
            if started is None:
                gone.append(resource.identifier)
            else:
                deleting[resource.identifier] = started.token
        return self._progress(params, {"deleting": deleting, "gone": gone, "looks": 0})

    def poll(self, params: CleanupParams, ctx: StepContext) -> Outcome:
        state = {"deleting": dict(ctx.state["deleting"]), "gone": list(ctx.state["gone"]), "looks": ctx.state["looks"] + 1}
        for identifier, token in list(state["deleting"].items()):
            seen = _look(DatabaseId.parse(identifier), token, request_timeout=params.request_timeout,
                         interval=params.interval)
            if seen.status == "Succeeded":
                del state["deleting"][identifier]
                state["gone"].append(identifier)
        return self._progress(params, state)

    def _progress(self, params: CleanupParams, state: dict[str, Any]) -> Outcome:
        if state["deleting"]:
            return PollAgain(after_seconds=params.interval, state=state,
                             evidence={"deleting": sorted(state["deleting"]), "deleted": state["gone"]})
        return Done(evidence={"deleted": state["gone"], "looks": state["looks"]}, deleted=tuple(state["gone"]))
