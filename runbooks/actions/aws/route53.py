"""Route 53 failover records: switch which record of a PRIMARY/SECONDARY pair answers, and wait for a
health check's verdict.

Two ways to fail a record pair over, both reversible and both checked against the real state first:

- ``mode: health_check`` inverts the primary record's health check, so Route 53 itself judges the
  primary unhealthy and answers with the secondary: the way AWS suggests testing failover records;
  the records are not touched.
- ``mode: records`` rewrites the pair so the secondary record becomes PRIMARY and the primary
  SECONDARY, in one atomic change batch, and waits until Route 53 reports the change INSYNC.

``to: primary`` undoes either (a failback). A redelivered step finds the pair already switched and
does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..base import Action, ActionFailed, Done, Outcome, ParamError, PollAgain, StepContext, require_positive
from ..probing import burst_call_timeout, probe_until_healthy
from .bindings import RECORD, AwsTarget, describe_target
from .client import aws_errors, client_for

AWS_CALL_TIMEOUT = 30.0
# Route 53 counts an endpoint healthy when more than 18% of its checkers report it healthy.
HEALTHY_SHARE = 0.18


class RecordPair:
    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self.client = client_for(target, "route53")
        self.zone = str(target.binding["hosted_zone_id"]).removeprefix("/hostedzone/")
        self.name = target.resource.rstrip(".") + "."
        self.type = target.binding.get("record_type", "A")

    def call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        with aws_errors(f"{self.target.label} in hosted zone {self.zone}", "route53"):
            return getattr(self.client, operation)(**arguments)

    def records(self) -> dict[str, dict[str, Any]]:
        """The pair's records by role: {"primary": …, "secondary": …} (by their set identifiers)."""
        found = self.call("list_resource_record_sets", HostedZoneId=self.zone, StartRecordName=self.name,
                          StartRecordType=self.type, MaxItems="20")["ResourceRecordSets"]
        ours = {r.get("SetIdentifier"): r for r in found if r["Name"] == self.name and r["Type"] == self.type}
        pair = {}
        for role in ("primary", "secondary"):
            set_id = self.target.binding[f"{role}_set_identifier"]
            if set_id not in ours:
                raise ActionFailed(f"{self.target.label}: hosted zone {self.zone} has no {self.type} record {self.name} "
                                   f"with SetIdentifier {set_id!r} ({role}_set_identifier)")
            pair[role] = ours[set_id]
        return pair

    def health_check_id(self, given: str | None = None) -> str:
        health_check = given or self.target.binding.get("health_check_id") or self.records()["primary"].get("HealthCheckId")
        if not health_check:
            raise ActionFailed(f"{self.target.label}: the primary record has no health check; give the binding a "
                               "health_check_id or use mode: records")
        return str(health_check)


@dataclass(frozen=True)
class Route53FailoverParams:
    target: str
    mode: str = "health_check"
    to: str = "secondary"
    poll_interval: float = 5.0

    def validate(self) -> None:
        if self.mode not in ("health_check", "records"):
            raise ParamError("mode", f"must be health_check or records, got {self.mode!r}")
        if self.to not in ("primary", "secondary"):
            raise ParamError("to", f"must be secondary (fail over) or primary (fail back), got {self.to!r}")
        require_positive("poll_interval", self.poll_interval)


class Route53Failover(Action[Route53FailoverParams]):
    name = "aws.route53.failover"
    summary = "Switch a Route 53 failover record pair to its secondary (or back), by health-check state or by rewriting the records."
    Params = Route53FailoverParams
    target_kind = RECORD
    changes = "changes which record of a Route 53 failover pair answers DNS queries"

    def call_timeout(self, params: Route53FailoverParams) -> float:
        return AWS_CALL_TIMEOUT

    def describe(self, params: Route53FailoverParams, targets: dict[str, dict[str, Any]]) -> str:
        how = ("by inverting the primary's health check" if params.mode == "health_check"
               else "by rewriting the failover records")
        return f"switches {describe_target(targets, params.target)} to its {params.to} record {how}"

    def plan(self, params: Route53FailoverParams, ctx: StepContext) -> dict[str, Any]:
        pair = RecordPair(AwsTarget.of(ctx, params.target, RECORD))
        records = pair.records()
        facts = {"primary_now": _role_holder(records), "records": {r: _summary(v) for r, v in records.items()}}
        if params.mode == "health_check":
            check = pair.health_check_id()
            config = pair.call("get_health_check", HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]
            facts.update(health_check=check, inverted_now=bool(config.get("Inverted")))
            return {"would": f"set Inverted={params.to == 'secondary'} on health check {check}", **facts}
        return {"would": f"make the {params.to} record ({pair.target.binding[params.to + '_set_identifier']}) PRIMARY", **facts}

    def run(self, params: Route53FailoverParams, ctx: StepContext) -> Outcome:
        pair = RecordPair(AwsTarget.of(ctx, params.target, RECORD))
        if params.mode == "health_check":
            return self._invert(params, ctx, pair)
        return self._rewrite(params, ctx, pair)

    def _invert(self, params: Route53FailoverParams, ctx: StepContext, pair: RecordPair) -> Outcome:
        check = pair.health_check_id()
        health = pair.call("get_health_check", HealthCheckId=check)["HealthCheck"]
        want = params.to == "secondary"
        already = bool(health["HealthCheckConfig"].get("Inverted")) == want
        if not already:
            # HealthCheckVersion makes the update conditional: it fails if someone changed the check meanwhile.
            pair.call("update_health_check", HealthCheckId=check, HealthCheckVersion=health["HealthCheckVersion"],
                      Inverted=want)
        switched_at = ctx.now()
        return Done(evidence={"record": pair.name, "hosted_zone": pair.zone, "mode": "health_check",
                              "health_check": check, "inverted": want, "already_switched": already,
                              "switched_at": switched_at.isoformat()},
                    marks={} if already else {"outage_start": switched_at})

    def _rewrite(self, params: Route53FailoverParams, ctx: StepContext, pair: RecordPair) -> Outcome:
        records = pair.records()
        new_primary = records[params.to]
        if new_primary.get("Failover") == "PRIMARY":
            return Done(evidence={"record": pair.name, "hosted_zone": pair.zone, "mode": "records",
                                  "primary": new_primary["SetIdentifier"], "already_switched": True})
        other = records["primary" if params.to == "secondary" else "secondary"]
        changes = [{"Action": "UPSERT", "ResourceRecordSet": {**_writable(new_primary), "Failover": "PRIMARY"}},
                   {"Action": "UPSERT", "ResourceRecordSet": {**_writable(other), "Failover": "SECONDARY"}}]
        requested_at = ctx.now()
        change = pair.call("change_resource_record_sets", HostedZoneId=pair.zone, ChangeBatch={
            "Comment": f"drdrill {ctx.idempotency_key}: {new_primary['SetIdentifier']} becomes PRIMARY",
            "Changes": changes})["ChangeInfo"]
        return PollAgain(after_seconds=0, state={"change": change["Id"], "requested_at": requested_at.isoformat(),
                                                 "primary": new_primary["SetIdentifier"],
                                                 "primary_before": other["SetIdentifier"]})

    def poll(self, params: Route53FailoverParams, ctx: StepContext) -> Outcome:
        pair = RecordPair(AwsTarget.of(ctx, params.target, RECORD))
        state = dict(ctx.state)
        status = pair.call("get_change", Id=state["change"])["ChangeInfo"]["Status"]
        if status != "INSYNC":
            return PollAgain(after_seconds=params.poll_interval, state=state, evidence={"change_status": status})
        return Done(evidence={"record": pair.name, "hosted_zone": pair.zone, "mode": "records", **state,
                              "insync_at": ctx.now().isoformat(), "already_switched": False},
                    marks={"outage_start": datetime.fromisoformat(state["requested_at"])})


def _writable(record: dict[str, Any]) -> dict[str, Any]:
    """A record as list_resource_record_sets returns it, as change_resource_record_sets takes it."""
    keys = ("Name", "Type", "SetIdentifier", "TTL", "ResourceRecords", "AliasTarget", "HealthCheckId")
    return {k: record[k] for k in keys if record.get(k) is not None}


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    values = [r["Value"] for r in record.get("ResourceRecords", [])] or [record.get("AliasTarget", {}).get("DNSName")]
    return {"set_identifier": record.get("SetIdentifier"), "failover": record.get("Failover"), "values": values,
            "health_check": record.get("HealthCheckId")}


def _role_holder(records: dict[str, dict[str, Any]]) -> str | None:
    return next((r["SetIdentifier"] for r in records.values() if r.get("Failover") == "PRIMARY"), None)


@dataclass(frozen=True)
class Route53WaitHealthyParams:
    target: str
    health_check_id: str | None = None
    expect: str = "healthy"
    interval: float = 10.0
    consecutive: int = 3

    def validate(self) -> None:
        if self.expect not in ("healthy", "unhealthy"):
            raise ParamError("expect", f"must be healthy or unhealthy, got {self.expect!r}")
        require_positive("interval", self.interval)
        require_positive("consecutive", self.consecutive)


class Route53WaitHealthy(Action[Route53WaitHealthyParams]):
    name = "aws.route53.wait_healthy"
    summary = "Read a Route 53 health check's status until its checkers agree it is healthy (or unhealthy) several times in a row."
    Params = Route53WaitHealthyParams
    target_kind = RECORD
    phase = "verify"
    changes = "nothing (reads the health check's status)"

    def call_timeout(self, params: Route53WaitHealthyParams) -> float:
        return burst_call_timeout(interval=params.interval, probe_timeout=AWS_CALL_TIMEOUT / 2)

    def describe(self, params: Route53WaitHealthyParams, targets: dict[str, dict[str, Any]]) -> str:
        check = params.health_check_id or (targets.get(params.target) or {}).get("health_check_id") or "the primary's health check"
        return f"waits until Route 53 health check {check} of {describe_target(targets, params.target)} reports {params.expect}"

    def plan(self, params: Route53WaitHealthyParams, ctx: StepContext) -> dict[str, Any]:
        pair = RecordPair(AwsTarget.of(ctx, params.target, RECORD))
        check = pair.health_check_id(params.health_check_id)
        pair.call("get_health_check", HealthCheckId=check)
        return {"would": f"read health check {check} every {params.interval} s until {params.consecutive} readings "
                         f"in a row say {params.expect}"}

    def run(self, params: Route53WaitHealthyParams, ctx: StepContext) -> Outcome:
        return self.poll(params, ctx)

    def poll(self, params: Route53WaitHealthyParams, ctx: StepContext) -> Outcome:
        pair = RecordPair(AwsTarget.of(ctx, params.target, RECORD))
        check = pair.health_check_id(params.health_check_id)

        def probe_once() -> tuple[bool, str, dict[str, Any]]:
            observations = pair.call("get_health_check_status", HealthCheckId=check)["HealthCheckObservations"]
            healthy = sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))
            share = healthy / len(observations) if observations else 0.0
            is_healthy = share > HEALTHY_SHARE
            detail = f"{healthy} of {len(observations)} checkers report healthy"
            return is_healthy == (params.expect == "healthy"), detail, {"healthy_checkers": healthy,
                                                                        "checkers": len(observations)}

        return probe_until_healthy(probe_once, ctx, address=f"route53 health check {check}",
                                      method=f"Route 53 health check {check} {params.expect} (more than 18% of "
                                             f"checkers) {params.consecutive} times in a row",
                                      interval=params.interval, consecutive=params.consecutive)
