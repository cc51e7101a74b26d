"""The two Azure target kinds, read and checked without the SDK (the importer and the web server use
this module; only the modules that call Azure import azure-mgmt-sql).

``azure-sql-failover-group``: a failover group, named through one of its two servers.
``azure-sql-database``: a database on a server, optionally with the partner server it is
geo-replicated to.

Both name a subscription, a resource group, a server and its region, and optionally the partner
server (its region, and its resource group when it differs). Neither holds a secret: the worker
authenticates through azure-identity's DefaultAzureCredential (docs/actions-azure.md#credentials).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..base import ActionFailed, StepContext
from ..policy import CloudAccess

FAILOVER_GROUP = "azure-sql-failover-group"
DATABASE = "azure-sql-database"
KINDS = (FAILOVER_GROUP, DATABASE)

COMMON_FIELDS = {"kind", "subscription_id", "resource_group", "server", "location",
                 "partner_server", "partner_location", "partner_resource_group"}
FIELDS = {FAILOVER_GROUP: COMMON_FIELDS | {"failover_group"}, DATABASE: COMMON_FIELDS | {"database"}}

SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Azure's own naming rules, so a typo is caught at import rather than as a 404 during the drill.
RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,89}[-\w_()]$")
SERVER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
LOCATION = re.compile(r"^[a-z0-9]+$")
DATABASE_NAME = re.compile(r"^[^<>*%&:\\/?]{0,127}[^<>*%&:\\/?. ]$")


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with an Azure target binding, as (field, message) pairs; checked at import."""
    kind = binding.get("kind")
    fields = FIELDS[kind]
    problems = [(key, f"unknown field; a {kind} target takes: {', '.join(sorted(fields - {'kind'}))}")
                for key in sorted(set(binding) - fields)]
    required = ["subscription_id", "resource_group", "server", "location",
                "failover_group" if kind == FAILOVER_GROUP else "database"]
    if kind == FAILOVER_GROUP:
        required += ["partner_server", "partner_location"]
    for name in required:
        if not isinstance(binding.get(name), str) or not binding[name].strip():
            problems.append((name, "required"))
    checks = (
        ("subscription_id", SUBSCRIPTION_ID, "must be a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)"),
        ("resource_group", RESOURCE_GROUP, "must be a resource group name (letters, digits, - _ . ( ), at most 90, not ending in a dot)"),
        ("partner_resource_group", RESOURCE_GROUP, "must be a resource group name"),
        ("server", SERVER, "must be an Azure SQL server name: lowercase letters, digits and hyphens, not at either end"),
        ("partner_server", SERVER, "must be an Azure SQL server name: lowercase letters, digits and hyphens"),
        ("failover_group", SERVER, "must be a failover group name: lowercase letters, digits and hyphens"),
        ("location", LOCATION, "must be an Azure region name such as westeurope (no spaces)"),
        ("partner_location", LOCATION, "must be an Azure region name such as northeurope"),
        ("database", DATABASE_NAME, "must be a database name without < > * % & : \\ / ? and not ending in a dot or space"),
    )
    for name, pattern, message in checks:
        value = binding.get(name)
        if isinstance(value, str) and value.strip() and not pattern.match(value):
            problems.append((name, f"{message}, got {value!r}"))
        elif value is not None and not isinstance(value, str):
            problems.append((name, f"must be text, got {value!r}"))
    if binding.get("partner_server") and not binding.get("partner_location"):
        problems.append(("partner_location", "required with partner_server (the region the partner server is in)"))
    if binding.get("partner_server") and binding.get("partner_server") == binding.get("server"):
        problems.append(("partner_server", "must be the other server of the pair, not the binding's own server"))
    return problems


@dataclass(frozen=True)
class Server:
    subscription_id: str
    resource_group: str
    name: str
    location: str

    def resource_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Sql/servers/{self.name}")


@dataclass(frozen=True)
class AzureSqlTarget:
    """A binding, read. ``object_name`` is the failover group's or the database's name."""

    name: str
    kind: str
    server: Server
    partner: Server | None
    object_name: str

    @classmethod
    def of(cls, ctx: StepContext, target: str, kind: str) -> AzureSqlTarget:
        return cls.from_binding(target, ctx.target(target), kind)

    @classmethod
    def from_binding(cls, target: str, binding: dict[str, Any], kind: str) -> AzureSqlTarget:
        if binding.get("kind") != kind:
            raise ActionFailed(f"target {target!r} is not an {kind} target (it is {binding.get('kind')!r})")
        server = Server(binding["subscription_id"], binding["resource_group"], binding["server"], binding["location"])
        partner = None
        if binding.get("partner_server"):
            partner = Server(binding["subscription_id"], binding.get("partner_resource_group") or binding["resource_group"],
                             binding["partner_server"], binding["partner_location"])
        name = binding["failover_group"] if kind == FAILOVER_GROUP else binding["database"]
        return cls(target, kind, server, partner, name)

    @property
    def servers(self) -> tuple[Server, ...]:
        return (self.server, self.partner) if self.partner else (self.server,)

    def server_named(self, name: str | None, *, default_partner: bool = True) -> Server:
        """The server a step names (``to_server``), which must be one of the binding's; by default
        the partner, where a failover goes."""
        if name is None:
            if default_partner and self.partner is not None:
                return self.partner
            if default_partner:
                raise ActionFailed(f"target {self.name!r} names no partner_server: say which server to act on")
            return self.server
        for server in self.servers:
            if server.name == name:
                return server
        raise ActionFailed(f"server {name!r} is not one of target {self.name!r}'s servers "
                           f"({', '.join(s.name for s in self.servers)})")

    def other_than(self, server: Server) -> Server | None:
        return next((s for s in self.servers if s != server), None)


def binding_access(binding: dict[str, Any]) -> list[CloudAccess]:
    """A step on an Azure target acts in its subscription, in each of its servers' regions."""
    subscription = binding.get("subscription_id")
    accesses = [CloudAccess("azure", subscription, binding.get("location"))]
    if binding.get("partner_server") and binding.get("partner_location") != binding.get("location"):
        accesses.append(CloudAccess("azure", subscription, binding.get("partner_location")))
    return accesses
