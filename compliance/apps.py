from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = "Compliance evidence"

    def ready(self) -> None:
        from . import retention  # noqa: F401  (registers the guard against deleting drills too early)
