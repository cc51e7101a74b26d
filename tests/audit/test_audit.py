"""The audit trail: every change written with who, when, what and from where; append-only in the
database; hash-chained so tampering shows; exported as a drill's evidence pack."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEntry
from drills.services import abort_drill, drill_start
from runbooks.models import Runbook
from tests.support.roles import PASSWORD, user_with_role
from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml


@pytest.fixture
def imported(db, import_yaml, orders_db):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), runbook_yaml())
    return Runbook.objects.get()


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def test_an_import_records_who_created_what(imported, coordinator):
    entries = {e.action: e for e in AuditEntry.objects.all()}
    assert entries["system.created"].actor_name == "casey"
    assert entries["system.created"].after["tier"] == 2
    assert entries["runbook.version_created"].after["version"] == 1


def test_a_changed_system_records_before_and_after(imported, import_yaml, orders_db):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9", rto_target="5m"))
    update = AuditEntry.objects.get(action="system.updated")
    assert update.before == {"rto_target_seconds": 120} and update.after == {"rto_target_seconds": 300}


def test_sign_ins_and_failed_sign_ins_are_recorded_with_their_origin(db):
    user_with_role("vera", Role.VIEWER.value)
    client = Client(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140")
    client.post("/login/", {"username": "vera", "password": "nope"})
    client.post("/login/", {"username": "vera", "password": PASSWORD})
    failed, signed_in = AuditEntry.objects.filter(action__startswith="auth.").order_by("id")
    assert failed.action == "auth.sign_in_failed" and failed.after == {"username": "vera"}
    assert signed_in.action == "auth.signed_in" and signed_in.actor_name == "vera"
    assert signed_in.source == "203.0.113.7" and signed_in.user_agent == "Firefox/140"
    assert PASSWORD not in json.dumps([failed.after, failed.summary, signed_in.summary])


def test_granting_a_role_from_the_shell_is_recorded(db):
    user_with_role("newbie", None)
    call_command("roles", "grant", "newbie", "approver")
    entry = AuditEntry.objects.get(action="role.granted")
    assert entry.before == {"roles": []} and entry.after == {"roles": ["approver"]}
    assert entry.actor_name.startswith("cli:")


def test_drill_actions_are_recorded_against_the_drill(imported, coordinator):
    drill = drill_start(runbook_version=imported.latest_version, user=coordinator, mode="dry_run")
    abort_drill(drill=drill, user=coordinator, reason="wrong window")
    drill_entries = AuditEntry.objects.filter(drill_id=drill.pk).order_by("id")
    assert [e.action for e in drill_entries] == ["drill.started", "drill.aborted"]
    assert drill_entries[1].before == {"status": "running"} and drill_entries[1].after == {"status": "aborted"}


def test_the_application_cannot_change_or_delete_an_entry(imported):
    entry = AuditEntry.objects.first()
    entry.summary = "nothing happened here"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


@pytest.mark.postgres  # the database-level guard is PostgreSQL's; an embedded SQLite file is its owner's to edit
def test_on_postgresql_the_database_refuses_update_and_delete_of_audit_rows(imported):
    entry_id = AuditEntry.objects.first().pk
    for statement in ("UPDATE audit_auditentry SET summary = 'edited' WHERE id = %s",
                      "DELETE FROM audit_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [entry_id])
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            AuditEntry.objects.filter(pk=entry_id).update(summary="edited")
    assert AuditEntry.objects.get(pk=entry_id).summary != "edited"


def tamper(sql: str, params: list) -> None:
    """What someone with the database owner's rights could do behind the application's back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_append_only")


def test_verify_finds_an_edited_entry(imported, capsys):
    call_command("audit", "verify")
    assert "intact" in capsys.readouterr().out
    victim = AuditEntry.objects.order_by("id")[1]
    tamper("UPDATE audit_auditentry SET actor_name = %s WHERE id = %s", ["someone-else", victim.pk])
    with pytest.raises(CommandError, match="tampered"):
        call_command("audit", "verify")
    assert f"entry {victim.pk}: its content no longer matches its MAC" in capsys.readouterr().err


def test_verify_finds_a_removed_entry(imported, coordinator, capsys):
    drill_start(runbook_version=imported.latest_version, user=coordinator, mode="dry_run")
    assert AuditEntry.objects.count() >= 3
    victim = AuditEntry.objects.order_by("id")[1]
    tamper("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match="tampered"):
        call_command("audit", "verify")
    assert "does not link to the entry before it" in capsys.readouterr().err


def test_a_drill_evidence_pack_exports_as_csv_and_json_lines(imported, coordinator):
    drill = drill_start(runbook_version=imported.latest_version, user=coordinator, mode="dry_run")
    abort_drill(drill=drill, user=coordinator, reason="wrong window")
    client = Client()
    client.force_login(user_with_role("ann", Role.APPROVER.value))

    lines = b"".join(client.get(f"/audit/export.jsonl?drill={drill.pk}").streaming_content).decode().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["drill.started", "drill.aborted"]

    response = client.get(f"/audit/export.csv?drill={drill.pk}")
    assert f"drill-{drill.pk}-evidence.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["drill.started", "drill.aborted"]
    assert all(len(r["entry_hash"]) == 64 for r in rows)

    page = client.get(f"/audit/?drill={drill.pk}").content.decode()
    assert "drill.aborted" in page and "system.created" not in page
