"""The DR test checklist starts as the handbook's ten items (docs/reviews.md); coordinators edit it."""

from django.db import migrations

HANDBOOK = [
    ("Notify stakeholders of the DR test", ""),
    ("Document the current state (baseline)", "baseline"),
    ("Initiate the failover procedure", ""),
    ("Verify application functionality", ""),
    ("Test data integrity", "integrity"),
    ("Measure RTO (time to restore)", "rto"),
    ("Measure RPO (data loss)", "rpo"),
    ("Perform failback", "failback"),
    ("Document lessons learned", ""),
    ("Update the DR runbooks", ""),
]


def seed(apps, schema_editor):
    Item = apps.get_model("reviews", "ChecklistTemplateItem")
    if not Item.objects.exists():
        Item.objects.bulk_create(Item(position=n, title=title, evidence=evidence)
                                 for n, (title, evidence) in enumerate(HANDBOOK, start=1))


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
