from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "Recovery plans"

    def ready(self) -> None:
        # A plan drill moves on when one of its system drills ends: it listens to drills.signals,
        # and drills never imports plans.
        from . import receivers  # noqa: F401
