"""Failing over Azure SQL: a failover group (planned, forced, or planned-then-forced), a database's
geo-replication link, and waiting until a group reports the expected primary.

Every failover is asked of the server that is to become primary ("fail over to this server"), so a
step names that server (``to_server``, by default the binding's partner): a redelivered ``run()``
that finds it already primary knows the failover happened and starts nothing. Once started, the
operation's continuation token is the step's poll state, and each poll looks at the same operation.

RPO evidence: Resource Manager reports each side's role and the replication state, not the
replication lag (that is only in the primary's sys.dm_geo_replication_link_status). A planned
failover synchronises the secondary fully before the roles swap, so when the state was CATCH_UP
before it started the step records an RPO of 0 as Azure's contract, with the facts it rests on; a
forced failover records the facts and leaves the figure to a canary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, PollAgain, StepContext, require_positive
from . import arm
from .bindings import DATABASE, FAILOVER_GROUP, AzureSqlTarget, Server

SYNCHRONISED = "CATCH_UP"
PLANNED_RPO_METHOD = ("Azure planned failover: the secondary is fully synchronised before the roles swap, so no "
                      "committed transaction is lost (Azure's contract; replication state CATCH_UP before it started)")


@dataclass(frozen=True)
class FailoverGroupParams:
    target: str
    to_server: str | None = None      # the server to make primary; default: the binding's partner
    interval: float = 10.0            # seconds between looks at the operation when Azure does not say
    request_timeout: float = 20.0     # one request to Azure, in seconds

    def validate(self) -> None:
        require_positive("interval", self.interval)
        require_positive("request_timeout", self.request_timeout)


@dataclass(frozen=True)
class ForceFailoverParams(FailoverGroupParams):
    # Azure's tryPlannedBeforeForcedFailover: a planned failover if the partner answers, else forced.
    try_planned_first: bool = False


@dataclass(frozen=True)
class GeoLinkParams:
    target: str
    to_server: str | None = None
    link_id: str | None = None        # default: the database's one link to the other server
    allow_data_loss: bool = False
    interval: float = 10.0
    request_timeout: float = 20.0

    def validate(self) -> None:
        require_positive("interval", self.interval)
        require_positive("request_timeout", self.request_timeout)


def _now(ctx: StepContext) -> str:
    return ctx.now().isoformat()


def _text(value: Any) -> Any:
    """The SDK's enums as the plain words Azure sent (evidence is JSON)."""
    return getattr(value, "value", value)


# --- failover groups ----------------------------------------------------------------------------

def group_facts(target: AzureSqlTarget, seen_from: Server, *, request_timeout: float, ctx: StepContext) -> dict[str, Any]:
    """The group as ``seen_from`` sees it: its role, the replication state, every partner's role."""
    doing = f"reading failover group {target.object_name} on server {seen_from.name}"
    try:
        with arm.sql_client(seen_from.subscription_id, request_timeout=request_timeout) as client:
            group = client.failover_groups.get(seen_from.resource_group, seen_from.name, target.object_name)
    except arm.AzureError as error:
        raise arm.failure(error, doing) from None
    partners = [{"server": (p.id or "").rsplit("/", 1)[-1], "location": p.location, "role": _text(p.replication_role)}
                for p in group.partner_servers or []]
    return {"failover_group": target.object_name, "server": seen_from.name, "role": _text(group.replication_role),
            "replication_state": _text(group.replication_state), "partners": partners,
            "databases": len(group.databases or []), "read_at": _now(ctx)}


def operation_marks(state: dict[str, Any], after: dict[str, Any]) -> dict[str, datetime]:
    """A step that declares them: the outage starts when the operation is requested (writes stop
    during the role swap) and the service is back when the new primary reports its role."""
    return {"outage_start": datetime.fromisoformat(state["started_at"]),
            "service_restored": datetime.fromisoformat(after["read_at"])}


def primary_of(facts: dict[str, Any]) -> str | None:
    if facts["role"] == "Primary":
        return facts["server"]
    return next((p["server"] for p in facts["partners"] if p["role"] == "Primary"), None)


class _FailoverGroupAction(Action[Any]):
    target_kind = FAILOVER_GROUP
    forced = False

    def call_timeout(self, params: Any) -> float:
        return arm.call_budget(params.request_timeout)

    def _operation(self, params: Any) -> tuple[str, str]:
        """(the SDK's begin_ method name, the operation in words)."""
        return "begin_failover", "planned failover"

    def _target(self, params: Any, ctx: StepContext) -> tuple[AzureSqlTarget, Server]:
        target = AzureSqlTarget.of(ctx, params.target, FAILOVER_GROUP)
        return target, target.server_named(params.to_server)

    def describe(self, params: Any, targets: dict[str, dict[str, Any]]) -> str:
        binding = targets.get(params.target, {})
        to = params.to_server or binding.get("partner_server", "the partner server")
        _, words = self._operation(params)
        loss = " Transactions not yet replicated may be lost." if self.forced else " No committed data is lost."
        return (f"Makes {to} the primary of Azure SQL failover group {binding.get('failover_group', params.target)} "
                f"({words}); applications using the group's listener follow it.{loss}")

    def _check_before(self, facts: dict[str, Any], to: Server) -> None:
        if facts["role"] not in ("Primary", "Secondary"):
            raise ActionFailed(f"failover group {facts['failover_group']}: server {to.name} reports role "
                               f"{facts['role']!r}, neither Primary nor Secondary; nothing was changed")
        if not self.forced and facts["replication_state"] != SYNCHRONISED and facts["role"] == "Secondary":
            raise ActionFailed(f"failover group {facts['failover_group']}: the replication state is "
                               f"{facts['replication_state']!r}, not {SYNCHRONISED} (synchronised), so a planned failover "
                               f"to {to.name} would not complete; nothing was changed (a forced failover is "
                               "azure.sql.force_failover)")

    def plan(self, params: Any, ctx: StepContext) -> dict[str, Any]:
        target, to = self._target(params, ctx)
        facts = group_facts(target, to, request_timeout=params.request_timeout, ctx=ctx)
        self._check_before(facts, to)
        if facts["role"] == "Primary":
            return {"would": f"do nothing: {to.name} is already the primary of {target.object_name}", "group": facts}
        _, words = self._operation(params)
        return {"would": f"start a {words} of failover group {target.object_name} to {to.name} "
                         f"(primary now: {primary_of(facts)})", "group": facts}

    def run(self, params: Any, ctx: StepContext) -> Outcome:
        target, to = self._target(params, ctx)
        before = group_facts(target, to, request_timeout=params.request_timeout, ctx=ctx)
        if before["role"] == "Primary":
            # A redelivered run after the failover completed, or a group already where we want it.
            return Done(evidence={"already_primary": True, "group_before": before, "group_after": before,
                                  "attempt": ctx.attempt})
        self._check_before(before, to)
        method, words = self._operation(params)
        doing = f"{words} of failover group {target.object_name} to server {to.name}"
        started_at = _now(ctx)
        with arm.sql_client(to.subscription_id, request_timeout=params.request_timeout) as client:
            started = arm.start(getattr(client.failover_groups, method), to.resource_group, to.name, target.object_name,
                                doing=doing, interval=params.interval)
        state = {"token": started.token, "started_at": started_at, "looks": 0, "unanswered": 0, "group_before": before}
        return PollAgain(after_seconds=started.next_look_after, state=state,
                         evidence={"operation": words, "started_at": started_at, "group_before": before})

    def poll(self, params: Any, ctx: StepContext) -> Outcome:
        target, to = self._target(params, ctx)
        method, words = self._operation(params)
        doing = f"{words} of failover group {target.object_name} to server {to.name}"
        state = dict(ctx.state)
        with arm.sql_client(to.subscription_id, request_timeout=params.request_timeout) as client:
            seen = arm.look(getattr(client.failover_groups, method), to.resource_group, to.name, target.object_name,
                            token=state["token"], doing=doing, interval=params.interval)
        state["looks"] += 1
        state["unanswered"] += seen.status == "Unanswered"
        if not seen.finished:
            return PollAgain(after_seconds=seen.next_look_after, state=state,
                             evidence={"operation": words, "started_at": state["started_at"], "status": seen.status,
                                       "looks": state["looks"], "group_before": state["group_before"]})
        after = group_facts(target, to, request_timeout=params.request_timeout, ctx=ctx)
        if after["role"] != "Primary":
            raise ActionFailed(f"{doing} reported Succeeded, yet {to.name} reports role {after['role']!r}")
        evidence = {"operation": words, "started_at": state["started_at"], "finished_at": after["read_at"],
                    "looks": state["looks"], "unanswered_looks": state["unanswered"], "attempt": ctx.attempt,
                    "group_before": state["group_before"], "group_after": after, "new_primary": to.name}
        return Done(evidence={**evidence, **self._rpo(state["group_before"])}, marks=operation_marks(state, after))

    def _rpo(self, before: dict[str, Any]) -> dict[str, Any]:
        if not self.forced and before["replication_state"] == SYNCHRONISED:
            return {"rpo_seconds": 0.0, "rpo_method": PLANNED_RPO_METHOD}
        return {"rpo_note": "Azure Resource Manager reports the replication state "
                            f"({before['replication_state']}) but not the lag; a forced failover may lose what was not "
                            "yet replicated: measure it with a canary"}


class FailoverGroupFailover(_FailoverGroupAction):
    name = "azure.sql.failover_group"
    summary = "Planned failover of an Azure SQL failover group: the partner becomes primary after a full sync."
    Params = FailoverGroupParams
    changes = "swaps the failover group's primary and secondary servers (planned: no data loss)"


class ForceFailover(_FailoverGroupAction):
    name = "azure.sql.force_failover"
    summary = ("Forced failover of an Azure SQL failover group (allow data loss), or planned-before-forced: "
               "for when the primary is unreachable.")
    Params = ForceFailoverParams
    changes = "makes the secondary server primary at once; transactions not yet replicated may be lost"
    forced = True

    def _operation(self, params: Any) -> tuple[str, str]:
        if params.try_planned_first:
            return "begin_try_planned_before_forced_failover", "planned-before-forced failover"
        return "begin_force_failover_allow_data_loss", "forced failover (allow data loss)"


# --- geo-replication links ----------------------------------------------------------------------

def link_facts(target: AzureSqlTarget, on: Server, link_id: str | None, *, request_timeout: float,
               ctx: StepContext) -> dict[str, Any]:
    """The geo-replication link of the database on ``on`` to the other server of the binding."""
    other = target.other_than(on)
    doing = f"reading the replication links of database {target.object_name} on server {on.name}"
    try:
        with arm.sql_client(on.subscription_id, request_timeout=request_timeout) as client:
            if link_id:
                links = [client.replication_links.get(on.resource_group, on.name, target.object_name, link_id)]
            else:
                links = list(client.replication_links.list_by_database(on.resource_group, on.name, target.object_name))
    except arm.AzureError as error:
        raise arm.failure(error, doing) from None
    if not link_id and other is not None:
        links = [link for link in links if link.partner_server == other.name]
    if len(links) != 1:
        found = ", ".join(f"{link.name} (to {link.partner_server})" for link in links) or "none"
        raise ActionFailed(f"database {target.object_name} on server {on.name}: expected one replication link to "
                           f"{other.name if other else 'its partner'}, found {found}; name it with link_id")
    link = links[0]
    return {"database": target.object_name, "server": on.name, "link_id": link.name, "role": _text(link.role),
            "partner_server": link.partner_server, "partner_role": _text(link.partner_role),
            "replication_state": _text(link.replication_state), "replication_mode": _text(link.replication_mode),
            "read_at": _now(ctx)}


class GeoLinkFailover(Action[GeoLinkParams]):
    name = "azure.sql.geo_link_failover"
    summary = "Fail over an Azure SQL database's geo-replication link: the secondary becomes primary."
    Params = GeoLinkParams
    target_kind = DATABASE
    changes = "swaps the roles of a geo-replicated database and its secondary"

    def call_timeout(self, params: GeoLinkParams) -> float:
        return arm.call_budget(params.request_timeout)

    def describe(self, params: GeoLinkParams, targets: dict[str, dict[str, Any]]) -> str:
        binding = targets.get(params.target, {})
        to = params.to_server or binding.get("partner_server", "the partner server")
        loss = ("forced: transactions not yet replicated may be lost" if params.allow_data_loss
                else "planned: no committed data is lost")
        return f"Makes database {binding.get('database', params.target)} on {to} the geo-replication primary ({loss})."

    def _where(self, params: GeoLinkParams, ctx: StepContext) -> tuple[AzureSqlTarget, Server]:
        target = AzureSqlTarget.of(ctx, params.target, DATABASE)
        return target, target.server_named(params.to_server)

    def _method(self, params: GeoLinkParams) -> tuple[str, str]:
        if params.allow_data_loss:
            return "begin_failover_allow_data_loss", "forced geo-replication failover (allow data loss)"
        return "begin_failover", "planned geo-replication failover"

    def _check(self, params: GeoLinkParams, facts: dict[str, Any]) -> None:
        if not params.allow_data_loss and facts["role"] == "Secondary" and facts["replication_state"] != SYNCHRONISED:
            raise ActionFailed(f"database {facts['database']} on {facts['server']}: the link's replication state is "
                               f"{facts['replication_state']!r}, not {SYNCHRONISED}; a planned failover would not "
                               "complete, nothing was changed (allow_data_loss: true forces it)")

    def plan(self, params: GeoLinkParams, ctx: StepContext) -> dict[str, Any]:
        target, to = self._where(params, ctx)
        facts = link_facts(target, to, params.link_id, request_timeout=params.request_timeout, ctx=ctx)
        if facts["role"] == "Primary":
            return {"would": f"do nothing: {target.object_name} on {to.name} is already the primary", "link": facts}
        self._check(params, facts)
        _, words = self._method(params)
        return {"would": f"start a {words} of {target.object_name} to {to.name}", "link": facts}

    def run(self, params: GeoLinkParams, ctx: StepContext) -> Outcome:
        target, to = self._where(params, ctx)
        before = link_facts(target, to, params.link_id, request_timeout=params.request_timeout, ctx=ctx)
        if before["role"] == "Primary":
            return Done(evidence={"already_primary": True, "link_before": before, "attempt": ctx.attempt})
        self._check(params, before)
        method, words = self._method(params)
        started_at = _now(ctx)
        with arm.sql_client(to.subscription_id, request_timeout=params.request_timeout) as client:
            started = arm.start(getattr(client.replication_links, method), to.resource_group, to.name, target.object_name,
                                before["link_id"], doing=f"{words} of database {target.object_name} to server {to.name}",
                                interval=params.interval)
        state = {"token": started.token, "link_id": before["link_id"], "started_at": started_at, "looks": 0,
                 "link_before": before}
        return PollAgain(after_seconds=started.next_look_after, state=state,
                         evidence={"operation": words, "started_at": started_at, "link_before": before})

    def poll(self, params: GeoLinkParams, ctx: StepContext) -> Outcome:
        target, to = self._where(params, ctx)
        method, words = self._method(params)
        state = dict(ctx.state)
        with arm.sql_client(to.subscription_id, request_timeout=params.request_timeout) as client:
            seen = arm.look(getattr(client.replication_links, method), to.resource_group, to.name, target.object_name,
                            state["link_id"], token=state["token"],
                            doing=f"{words} of database {target.object_name} to server {to.name}", interval=params.interval)
        state["looks"] += 1
        if not seen.finished:
            return PollAgain(after_seconds=seen.next_look_after, state=state,
                             evidence={"operation": words, "status": seen.status, "looks": state["looks"],
                                       "link_before": state["link_before"]})
        after = link_facts(target, to, state["link_id"], request_timeout=params.request_timeout, ctx=ctx)
        if after["role"] != "Primary":
            raise ActionFailed(f"{words} of {target.object_name} reported Succeeded, yet {to.name} reports role "
                               f"{after['role']!r}")
        evidence: dict[str, Any] = {"operation": words, "started_at": state["started_at"], "finished_at": after["read_at"],
                                    "looks": state["looks"], "attempt": ctx.attempt, "link_before": state["link_before"],
                                    "link_after": after, "new_primary": to.name}
        if not params.allow_data_loss and state["link_before"]["replication_state"] == SYNCHRONISED:
            evidence.update({"rpo_seconds": 0.0, "rpo_method": PLANNED_RPO_METHOD})
        return Done(evidence=evidence, marks=operation_marks(state, after))


# --- waiting for the expected primary -----------------------------------------------------------

@dataclass(frozen=True)
class WaitRoleParams:
    target: str
    primary: str | None = None        # the server expected to be primary; default: the binding's partner
    interval: float = 5.0
    request_timeout: float = 20.0

    def validate(self) -> None:
        require_positive("interval", self.interval)
        require_positive("request_timeout", self.request_timeout)


class WaitRole(Action[WaitRoleParams]):
    name = "azure.sql.wait_role"
    summary = "Wait until an Azure SQL failover group reports the expected server as its primary."
    Params = WaitRoleParams
    target_kind = FAILOVER_GROUP
    phase = "verify"
    changes = "nothing (reads the failover group until the expected server is primary)"

    def call_timeout(self, params: WaitRoleParams) -> float:
        return arm.call_budget(params.request_timeout)

    def describe(self, params: WaitRoleParams, targets: dict[str, dict[str, Any]]) -> str:
        binding = targets.get(params.target, {})
        primary = params.primary or binding.get("partner_server", "the partner server")
        return (f"Reads failover group {binding.get('failover_group', params.target)} every {params.interval:g} s "
                f"until it reports {primary} as its primary; changes nothing.")

    def _where(self, params: WaitRoleParams, ctx: StepContext) -> tuple[AzureSqlTarget, Server]:
        target = AzureSqlTarget.of(ctx, params.target, FAILOVER_GROUP)
        return target, target.server_named(params.primary)

    def plan(self, params: WaitRoleParams, ctx: StepContext) -> dict[str, Any]:
        target, expected = self._where(params, ctx)
        facts = group_facts(target, expected, request_timeout=params.request_timeout, ctx=ctx)
        return {"would": f"wait until {expected.name} is the primary of {target.object_name} "
                         f"(primary now: {primary_of(facts)})", "group": facts}

    def run(self, params: WaitRoleParams, ctx: StepContext) -> Outcome:
        return self.poll(params, ctx)

    def poll(self, params: WaitRoleParams, ctx: StepContext) -> Outcome:
        target, expected = self._where(params, ctx)
        facts = group_facts(target, expected, request_timeout=params.request_timeout, ctx=ctx)
        looks = ctx.state.get("looks", 0) + 1
        if facts["role"] != "Primary":
            return PollAgain(after_seconds=params.interval, state={"looks": looks},
                             evidence={"expected_primary": expected.name, "primary_now": primary_of(facts), "looks": looks})
        return Done(evidence={"expected_primary": expected.name, "seen_primary_at": facts["read_at"], "looks": looks,
                              "group": facts},
                    marks={"service_restored": datetime.fromisoformat(facts["read_at"])})
