"""What drills create in the world (restored databases, snapshots) and their deletion: recorded the
moment a step reports them, listed on the drill page, deleted by a cleanup step or by the sweep when
their time to live ends, and found again as orphans when a drill was lost before it cleaned up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction

from runbooks.actions import ActionFailed, CreatedResource
from runbooks.actions.registry import load_families
from runbooks.models import System

from .clock import db_now
from .models import Drill, DrillResource, EventKind
from .timeline import NewEvent, record_event, record_events

log = logging.getLogger("drdrill.resources")
# A deletion the provider is still carrying out is looked at again after this; a failed one retried.
LOOK_AGAIN_AFTER = timedelta(seconds=30)
RETRY_FAILED_AFTER = timedelta(minutes=5)


def as_created(resource: DrillResource) -> CreatedResource:
    return CreatedResource(provider=resource.provider, kind=resource.kind, identifier=resource.identifier,
                           target=resource.target, region=resource.region, account=resource.account,
                           details=resource.details)


def record_created(step_run_id: int, drill_id: int, created: tuple[CreatedResource, ...], now: datetime) -> None:
    """Inside the transaction that records the step's outcome: idempotent for a redelivered step."""
    for resource in created:
        expires = now + timedelta(seconds=resource.ttl_seconds) if resource.ttl_seconds else None
        _, new = DrillResource.objects.get_or_create(
            provider=resource.provider, identifier=resource.identifier,
            defaults={"drill_id": drill_id, "step_run_id": step_run_id, "kind": resource.kind,
                      "target": resource.target, "region": resource.region, "account": resource.account,
                      "created_at": now, "expires_at": expires, "details": resource.details})
        if new:
            until = f"; deleted at {expires:%Y-%m-%d %H:%M} UTC at the latest" if expires else ""
            record_events(drill_id, [NewEvent(EventKind.RESOURCE_CREATED,
                                              f"Created {resource.provider} {resource.kind} {resource.identifier}{until}.",
                                              step_run_id=step_run_id, data={"identifier": resource.identifier})], at=now)


def record_deleted(drill_id: int, identifiers: tuple[str, ...], now: datetime, *, by: str) -> None:
    for resource in DrillResource.objects.filter(identifier__in=identifiers).exclude(status=DrillResource.Status.DELETED):
        DrillResource.objects.filter(pk=resource.pk).update(status=DrillResource.Status.DELETED, deleted_at=now,
                                                           last_error="")
        record_event(resource.drill_id, EventKind.RESOURCE_DELETED,
                     f"Deleted {resource.provider} {resource.kind} {resource.identifier} ({by}).",
                     at=now, data={"identifier": resource.identifier})


def undeleted_of(drill_id: int) -> tuple[CreatedResource, ...]:
    return tuple(as_created(r) for r in DrillResource.objects.filter(drill_id=drill_id).exclude(
        status=DrillResource.Status.DELETED).order_by("created_at"))


def binding_of(resource: DrillResource) -> dict[str, Any]:
    return resource.drill.targets.get(resource.target, {})


# --- deletion when the time to live ends ----------------------------------------------------------

def send_expired_for_cleanup(now: datetime) -> int:
    """The sweep's part: every resource past its time to live gets a cleanup message."""
    expired = DrillResource.objects.filter(status__in=(DrillResource.Status.ACTIVE, DrillResource.Status.DELETING,
                                                       DrillResource.Status.FAILED),
                                           expires_at__lte=now).values_list("pk", flat=True)
    for resource_id in expired:
        current_app.send_task("drills.tasks.clean_up_resource", args=[resource_id])
    return len(expired)


def clean_up(resource_id: int) -> None:
    """Delete one expired resource through its family's cleaner; safe to run twice."""
    resource = DrillResource.objects.select_related("drill__system").filter(pk=resource_id).first()
    if resource is None or resource.status == DrillResource.Status.DELETED:
        return
    try:
        cleaner = load_families().resource_cleaner(resource.provider)
        gone = cleaner(as_created(resource), binding_of(resource))
    except ActionFailed as error:
        # Tried again later (a throttled API, a permission being fixed); shown on the drill page meanwhile.
        DrillResource.objects.filter(pk=resource.pk).update(status=DrillResource.Status.FAILED, last_error=str(error),
                                                           expires_at=db_now() + RETRY_FAILED_AFTER)
        log.warning("could not delete %s: %s", resource, error)
        return
    with transaction.atomic():
        if gone:
            record_deleted(resource.drill_id, (resource.identifier,), db_now(), by="its time to live ended")
        else:
            DrillResource.objects.filter(pk=resource.pk).update(status=DrillResource.Status.DELETING, last_error="",
                                                               expires_at=db_now() + LOOK_AGAIN_AFTER)


# --- orphans ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Orphan:
    resource: CreatedResource
    drill_id: int | None
    reason: str


def find_orphans() -> list[Orphan]:
    """Resources tagged by drdrill that exist although no live record says they should: their drill
    is unknown, or ended without deleting them. Asks each family with an orphan finder, once per
    distinct binding of its kinds."""
    registry = load_families()
    orphans: list[Orphan] = []
    seen: set[str] = set()
    for provider, kinds in registry.providers_with_orphan_finders().items():
        finder = registry.orphan_finder(provider)
        bindings = {repr(sorted(b.items())): b for system in System.objects.all()
                    for b in system.targets.values() if b.get("kind") in kinds}
        for binding in bindings.values():
            for found in finder(binding):
                if found.identifier in seen:
                    continue
                seen.add(found.identifier)
                orphan = _judge(found)
                if orphan:
                    orphans.append(orphan)
    return orphans


def _judge(found: CreatedResource) -> Orphan | None:
    drill_id = found.details.get("drill")
    drill_id = int(drill_id) if str(drill_id or "").isdigit() else None
    drill = Drill.objects.filter(pk=drill_id).first() if drill_id else None
    if drill is None:
        return Orphan(found, drill_id, f"tagged with drill {drill_id or '?'}, which drdrill has no record of")
    if drill.is_active:
        return None
    record = DrillResource.objects.filter(provider=found.provider, identifier=found.identifier).first()
    if record is not None and record.status == DrillResource.Status.DELETED:
        return Orphan(found, drill_id, f"recorded as deleted by drill #{drill_id}, yet it still exists")
    return Orphan(found, drill_id, f"drill #{drill_id} {drill.get_status_display().lower()} without deleting it")
