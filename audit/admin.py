from django.contrib import admin

from .models import AuditEntry
from .read_only_admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "actor_name", "action", "object_repr", "drill_id", "source")
    list_filter = ("action",)
    search_fields = ("actor_name", "summary", "object_repr")
