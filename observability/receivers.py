"""What observability does when the engine announces something."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from drills.signals import drill_ended

from .tracing import export_drill_trace


@receiver(drill_ended)
def export_trace_of_ended_drill(sender: Any, drill_id: int, **kwargs: Any) -> None:
    export_drill_trace(drill_id)
