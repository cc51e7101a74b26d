from django.db import migrations, models

# PostgreSQL refuses any UPDATE or DELETE of an audit row, whoever sends it through the application's
# database user. (TRUNCATE is left to the table owner, which the application should not be in
# production: see docs/operations.md.)
POSTGRES_GUARD = """
CREATE OR REPLACE FUNCTION drdrill_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % of audit entries is refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION drdrill_audit_refuse_change();
"""
POSTGRES_UNGUARD = """
DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry;
DROP FUNCTION IF EXISTS drdrill_audit_refuse_change();
"""


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_GUARD, params=None)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UNGUARD, params=None)


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(db_index=True)),
                ("actor_id", models.IntegerField(blank=True, null=True)),
                ("actor_name", models.CharField(max_length=200)),
                ("action", models.CharField(db_index=True, max_length=60)),
                ("object_type", models.CharField(blank=True, max_length=60)),
                ("object_id", models.CharField(blank=True, max_length=100)),
                ("object_repr", models.CharField(blank=True, max_length=300)),
                ("drill_id", models.IntegerField(blank=True, db_index=True, null=True)),
                ("summary", models.TextField(blank=True)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
                ("source", models.CharField(blank=True, help_text="IP address, or cli:/worker: and the host.", max_length=200)),
                ("user_agent", models.CharField(blank=True, max_length=300)),
                ("prev_hash", models.CharField(max_length=64)),
                ("entry_hash", models.CharField(max_length=64, unique=True)),
            ],
            options={"ordering": ["id"], "verbose_name_plural": "audit entries"},
        ),
        migrations.RunPython(guard, unguard),
    ]
