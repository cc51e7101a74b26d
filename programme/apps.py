from django.apps import AppConfig


class ProgrammeConfig(AppConfig):
    name = "programme"
    verbose_name = "DR programme"

    def ready(self) -> None:
        # The programme listens to drills (start, failure, waiting, end) through drills.signals; the
        # engine never calls it.
        from . import receivers  # noqa: F401
