from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Logs, metrics and traces"

    def ready(self) -> None:
        # observability watches drills through the signals the engine sends; drills never calls it.
        from . import receivers  # noqa: F401
