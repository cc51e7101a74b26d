from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Sign-ins and group changes made in the admin only announce themselves through Django's
        # signals; the receivers just hand them to audit.services.
        from . import receivers  # noqa: F401
