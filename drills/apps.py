from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "drills"
    verbose_name = "Drills"

    def ready(self) -> None:
        # A worker's own state (queues, shutdown, heartbeat) hangs on Celery's worker signals.
        from . import worker_state  # noqa: F401
