from django.contrib import admin

from .models import Runbook, RunbookVersion, Step, System


class ImportOnlyAdmin(admin.ModelAdmin):
    """Systems and runbooks change only by importing YAML (runbooks.services), which validates the
    whole file and writes the audit trail; the admin shows them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(System)
class SystemAdmin(ImportOnlyAdmin):
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
class RunbookAdmin(ImportOnlyAdmin):
    list_display = ("title", "slug", "system", "kind")


@admin.register(RunbookVersion)
class RunbookVersionAdmin(ImportOnlyAdmin):
    """Versions are immutable: what a drill ran must stay what was planned."""

    list_display = ("runbook", "number", "created_at", "created_by", "source_name")
    inlines = [StepInline]
