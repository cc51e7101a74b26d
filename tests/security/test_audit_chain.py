"""The audit trail holds up against someone who can write to drdrill's database: its chain is keyed
with a secret kept outside the database, anchors written elsewhere reveal removed newest entries,
changes made in the Django admin are recorded with who made them, and a client cannot choose the
address recorded for it."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEntry
from tests.support.roles import PASSWORD, user_with_role


def as_database_owner(sql: str, params: list) -> None:
    """What someone with the database owner's rights could do behind the application's back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_append_only")


def unkeyed_digest(entry: AuditEntry) -> str:
    """The chain an attacker can compute: the old unkeyed SHA-256 over the same fields."""
    payload = {"at": entry.at.isoformat(), "actor_id": entry.actor_id, "actor_name": entry.actor_name,
               "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
               "object_repr": entry.object_repr, "drill_id": entry.drill_id, "summary": entry.summary,
               "before": entry.before, "after": entry.after, "source": entry.source, "user_agent": entry.user_agent,
               "prev_hash": entry.prev_hash}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@pytest.fixture
def trail(db):
    for name in ("amy", "bob", "cy", "dee"):
        user_with_role(name, Role.VIEWER.value)  # each creation is an audit entry
    assert AuditEntry.objects.count() >= 4
    return list(AuditEntry.objects.order_by("id"))


def test_a_rewritten_entry_with_every_later_hash_recomputed_is_detected(trail, capsys):
    victim = trail[1]
    as_database_owner("UPDATE audit_auditentry SET actor_name = %s WHERE id = %s", ["nobody", victim.pk])
    previous = trail[0].entry_hash
    for entry in AuditEntry.objects.filter(id__gte=victim.pk).order_by("id"):
        entry.prev_hash = previous
        forged = unkeyed_digest(entry)
        as_database_owner("UPDATE audit_auditentry SET prev_hash = %s, entry_hash = %s WHERE id = %s",
                          [previous, forged, entry.pk])
        previous = forged

    with pytest.raises(CommandError, match="tampered"):
        call_command("audit", "verify")
    assert f"entry {victim.pk}: its content no longer matches its MAC" in capsys.readouterr().err


def test_removed_newest_entries_are_detected_against_an_anchor(trail, tmp_path, settings, capsys):
    sink = tmp_path / "elsewhere" / "anchors.jsonl"
    settings.AUDIT_ANCHOR = f"file://{sink}"
    call_command("audit", "anchor")
    anchor = json.loads(sink.read_text().splitlines()[-1])
    assert anchor["entry"] == trail[-1].pk
    call_command("audit", "verify", "--anchor")
    assert "and 1 anchor(s)" in capsys.readouterr().out

    as_database_owner("DELETE FROM audit_auditentry WHERE id >= %s", [trail[-2].pk])
    call_command("audit", "verify")  # the shorter chain is intact in itself...
    with pytest.raises(CommandError, match="tampered"):
        call_command("audit", "verify", "--anchor", str(sink))  # ...but not against the anchor
    assert "its newest entries were removed" in capsys.readouterr().err


def test_making_someone_superuser_in_the_admin_is_recorded_with_who_did_it(db):
    admin = user_with_role("root-of-trust", None)
    admin.is_superuser = admin.is_staff = True
    admin.save()
    mallory = user_with_role("mallory", Role.VIEWER.value)
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/auth/user/{mallory.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, (list, tuple))}
    data.update({"username": "mallory", "is_superuser": "on", "is_staff": "on", "is_active": "on",
                 "date_joined_0": "2026-12-01", "date_joined_1": "08:00:00", "groups": [], "user_permissions": []})
    data.pop("last_login", None)
    data.pop("password", None)
    response = client.post(f"/admin/auth/user/{mallory.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]

    entry = AuditEntry.objects.get(action="user.changed", object_id=str(mallory.pk))
    assert entry.actor_name == "root-of-trust"
    assert entry.before == {"is_staff": False, "is_superuser": False}
    assert entry.after == {"is_staff": True, "is_superuser": True}


def test_the_recorded_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(db, settings):
    user_with_role("vera", Role.VIEWER.value)
    Client(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="10.0.0.1").post(
        "/login/", {"username": "vera", "password": PASSWORD})
    spoofed = AuditEntry.objects.filter(action="auth.signed_in").latest("id")
    assert spoofed.source == "198.51.100.20"

    settings.TRUSTED_PROXIES = ["198.51.100.20/32"]
    Client(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9").post(
        "/login/", {"username": "vera", "password": PASSWORD})
    proxied = AuditEntry.objects.filter(action="auth.signed_in").latest("id")
    assert proxied.source == "203.0.113.9"  # what the trusted proxy saw, not what the client claimed
