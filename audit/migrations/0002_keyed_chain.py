"""The chain becomes keyed: every existing entry's hash is recomputed as an HMAC with AUDIT_KEY, in
order, so the trail verifies under the new rule. Done once, here, with the append-only trigger
lifted for the duration of the migration."""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations


def rechain(apps, schema_editor):
    AuditEntry = apps.get_model("audit", "AuditEntry")
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        if postgres:
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only")
        previous = "0" * 64
        for entry in AuditEntry.objects.order_by("id"):
            payload = {
                "at": entry.at.isoformat(), "actor_id": entry.actor_id, "actor_name": entry.actor_name,
                "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
                "object_repr": entry.object_repr, "drill_id": entry.drill_id, "summary": entry.summary,
                "before": entry.before, "after": entry.after, "source": entry.source, "user_agent": entry.user_agent,
                "prev_hash": previous,
            }
            canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
            mac = hmac.new(settings.AUDIT_KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()
            cursor.execute("UPDATE audit_auditentry SET prev_hash = %s, entry_hash = %s WHERE id = %s",
                           [previous, mac, entry.pk])
            previous = mac
        if postgres:
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_append_only")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(rechain, migrations.RunPython.noop)]
