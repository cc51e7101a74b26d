from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "What a drill teaches"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (the checklist snapshot when a drill starts)
