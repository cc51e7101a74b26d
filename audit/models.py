"""The audit trail: who did what, when, from where, with the state before and after.

Append-only three times over: the model refuses updates and deletes, on PostgreSQL a trigger
refuses them to the application's own database user, and each entry carries the hash of the one
before it, so an edit made behind the database's back still shows (``manage.py audit verify``).
Actors are kept by name and id, not by foreign key: deleting a user must not touch the trail.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class AuditEntry(models.Model):
    at = models.DateTimeField(db_index=True)
    actor_id = models.IntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=200)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    drill_id = models.IntegerField(null=True, blank=True, db_index=True)
    summary = models.TextField(blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="IP address, or cli:/worker: and the host.")
    user_agent = models.CharField(max_length=300, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[override]
        if self.pk is not None:
            raise ValidationError("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise ValidationError("the audit trail is append-only")
