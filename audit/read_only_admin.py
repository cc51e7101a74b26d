"""The admin shows records that change only through the application's services."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence and imported plans: visible in the admin, changed only by the services that
    validate and audit every change."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
