"""Writing, verifying and exporting the audit trail.

Each entry carries an HMAC-SHA-256 of its content and of the MAC of the entry before it, keyed with
``AUDIT_KEY``, which lives in the environment, not in the database: whoever can rewrite rows cannot
recompute the chain. Dropping the newest entries leaves a valid chain, so the newest entry's number
and MAC are also written outside the database (anchors, audit/anchors.py); ``verify`` against an
anchor finds them missing."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .context import current_origin
from .models import AuditEntry

GENESIS_HASH = "0" * 64
# Serialises writers on PostgreSQL so each entry links to the one truly before it; SQLite's
# IMMEDIATE transactions already serialise writers.
CHAIN_LOCK_KEY = 7_420_001
EXPORT_FIELDS = ["id", "at", "actor_name", "action", "object_type", "object_id", "object_repr", "drill_id",
                 "summary", "before", "after", "source", "user_agent", "prev_hash", "entry_hash"]


def _actor(actor: Any) -> tuple[int | None, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor
    if getattr(actor, "is_authenticated", False):
        return actor.pk, actor.get_username()
    return None, "anonymous"


def key_id() -> str:
    """Names the key (not the key itself), so a verifier can tell a wrong key from tampering."""
    return hashlib.sha256(settings.AUDIT_KEY.encode()).hexdigest()[:12]


def entry_digest(entry: AuditEntry) -> str:
    payload = {
        "at": entry.at.isoformat(), "actor_id": entry.actor_id, "actor_name": entry.actor_name, "action": entry.action,
        "object_type": entry.object_type, "object_id": entry.object_id, "object_repr": entry.object_repr,
        "drill_id": entry.drill_id, "summary": entry.summary, "before": entry.before, "after": entry.after,
        "source": entry.source, "user_agent": entry.user_agent, "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(settings.AUDIT_KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def record(action: str, *, actor: Any, obj: Any = None, drill_id: int | None = None, summary: str = "",
           before: Any = None, after: Any = None) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the change it tells, so both land or
    neither does."""
    actor_id, actor_name = _actor(actor)
    origin = current_origin()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        entry = AuditEntry(
            at=timezone.now(), actor_id=actor_id, actor_name=actor_name[:200], action=action,
            object_type=type(obj).__name__.lower() if obj is not None else "",
            object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
            object_repr=str(obj)[:300] if obj is not None else "",
            drill_id=drill_id, summary=summary, before=_jsonable(before), after=_jsonable(after),
            source=origin.source[:200], user_agent=origin.user_agent, prev_hash=last or GENESIS_HASH,
        )
        entry.entry_hash = entry_digest(entry)
        entry.save()
    return entry


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    message: str


def verify_chain(entries: Iterable[AuditEntry] | None = None,
                 anchors: list[dict[str, Any]] | None = None) -> tuple[int, list[ChainProblem]]:
    """Recompute every MAC and link, and check each anchor (an entry number and MAC written outside
    the database) against the trail. Returns (entries checked, problems)."""
    problems: list[ChainProblem] = []
    previous = GENESIS_HASH
    checked = 0
    macs: dict[int, str] = {}
    for entry in entries if entries is not None else AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        checked += 1
        if entry.prev_hash != previous:
            problems.append(ChainProblem(entry.pk, "does not link to the entry before it (an entry was removed or reordered)"))
        if entry_digest(entry) != entry.entry_hash:
            problems.append(ChainProblem(entry.pk, "its content no longer matches its MAC (it was edited, or the "
                                                   "trail was written with another audit key)"))
        previous = entry.entry_hash
        macs[entry.pk] = entry.entry_hash
    newest = max(macs) if macs else 0
    for anchor in anchors or []:
        number, mac = int(anchor["entry"]), str(anchor["mac"])
        if number > newest:
            problems.append(ChainProblem(number, f"the anchor of {anchor.get('at', '?')} names entry {number}, but the "
                                                 f"trail ends at entry {newest}: its newest entries were removed"))
        elif number not in macs:
            problems.append(ChainProblem(number, f"the anchor of {anchor.get('at', '?')} names entry {number}, which is "
                                                 "missing from the trail"))
        elif not hmac.compare_digest(macs[number], mac):
            problems.append(ChainProblem(number, f"its MAC differs from the anchor of {anchor.get('at', '?')}: the "
                                                 "trail up to it was rewritten"))
    return checked, problems


def anchor_now() -> dict[str, Any] | None:
    """The newest entry's number and MAC, to be kept outside the database."""
    newest = AuditEntry.objects.order_by("-id").values("id", "entry_hash").first()
    if newest is None:
        return None
    return {"entry": newest["id"], "mac": newest["entry_hash"], "key_id": key_id(), "at": timezone.now().isoformat()}


def filtered_entries(*, actor: str = "", action: str = "", drill_id: int | None = None,
                     object_type: str = "") -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if actor:
        entries = entries.filter(actor_name=actor)
    if action:
        entries = entries.filter(action__startswith=action)
    if drill_id is not None:
        entries = entries.filter(drill_id=drill_id)
    if object_type:
        entries = entries.filter(object_type=object_type)
    return entries.order_by("id")


def _row(entry: AuditEntry) -> dict[str, Any]:
    row = {name: getattr(entry, name) for name in EXPORT_FIELDS}
    row["at"] = entry.at.isoformat()
    return row


def export_jsonl(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    for entry in entries.iterator(chunk_size=2000):
        yield json.dumps(_row(entry), default=str) + "\n"


def export_csv(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for entry in entries.iterator(chunk_size=2000):
        row = _row(entry)
        row["before"] = json.dumps(row["before"], default=str) if row["before"] is not None else ""
        row["after"] = json.dumps(row["after"], default=str) if row["after"] is not None else ""
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# --- archives: entries that can be checked offline -----------------------------------------------

DIGEST_FIELDS = ["at", "actor_id", "actor_name", "action", "object_type", "object_id", "object_repr", "drill_id",
                 "summary", "before", "after", "source", "user_agent", "prev_hash"]


def archive_rows(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    """Entries as JSON lines with every field their MAC covers, so an archive's entries can be
    checked without the database (``verify_archived_rows``; ``manage.py audit verify --archive``)."""
    for entry in entries.order_by("id").iterator(chunk_size=2000):
        row = {name: getattr(entry, name) for name in DIGEST_FIELDS}
        row.update(id=entry.pk, at=entry.at.isoformat(), entry_hash=entry.entry_hash)
        yield json.dumps(row, default=str, sort_keys=True) + "\n"


def verify_archived_rows(lines: Iterable[str]) -> tuple[int, list[ChainProblem]]:
    """Recompute the MAC of each archived entry (with this installation's audit key) and check the
    link of each entry to the one before it where both are in the archive."""
    problems: list[ChainProblem] = []
    previous: tuple[int, str] | None = None
    checked = 0
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        checked += 1
        entry = AuditEntry(**{name: row[name] for name in DIGEST_FIELDS if name != "at"},
                           at=datetime.fromisoformat(row["at"]))
        if not hmac.compare_digest(entry_digest(entry), str(row["entry_hash"])):
            problems.append(ChainProblem(row["id"], "its content no longer matches its MAC (edited, or archived with "
                                                    "another audit key)"))
        if previous is not None and row["id"] == previous[0] + 1 and row["prev_hash"] != previous[1]:
            problems.append(ChainProblem(row["id"], "does not link to the entry before it"))
        previous = (row["id"], row["entry_hash"])
    return checked, problems
