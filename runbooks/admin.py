from django.contrib import admin

from audit.read_only_admin import ReadOnlyAdmin

from .models import Runbook, RunbookVersion, Step, System


# Systems and runbooks change only by importing YAML (runbooks.services), which validates and audits.
@admin.register(System)
class SystemAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "tier", "environment", "owner", "rto_target_seconds", "rpo_target_seconds")
    list_filter = ("tier", "environment")
    search_fields = ("name", "slug", "owner")


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    readonly_fields = ("position", "key", "name", "action", "params", "timeout_seconds", "retries", "marks", "group")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Runbook)
class RunbookAdmin(ReadOnlyAdmin):
    list_display = ("title", "slug", "system", "kind")


@admin.register(RunbookVersion)
class RunbookVersionAdmin(ReadOnlyAdmin):
    """Versions are immutable: what a drill ran must stay what was planned."""

    list_display = ("runbook", "number", "created_at", "created_by", "source_name")
    inlines = [StepInline]
