"""Celery tasks: thin wrappers that take ids and call the engine. Each is safe to run twice.
Each runs inside a log context, so every log line it writes carries the drill's ids."""

from __future__ import annotations

from celery import shared_task

from . import canary, engine, resources
from .log_context import log_context
from .models import StepRun


@shared_task(name="drills.tasks.advance_drill")
def advance_drill(drill_id: int) -> None:
    with log_context(drill_id=drill_id):
        engine.advance(drill_id)


@shared_task(name="drills.tasks.run_step")
def run_step(step_run_id: int, drill_id: int | None = None, position: int | None = None) -> None:
    # The drill's id and the step's position come with the message (the log context needs no query,
    # the claim is one round trip); older senders omit them.
    if drill_id is None:
        drill_id = StepRun.objects.filter(pk=step_run_id).values_list("drill_id", flat=True).first()
    with log_context(drill_id=drill_id, step_run_id=step_run_id):
        engine.execute(step_run_id, drill_id, position)


@shared_task(name="drills.tasks.finish_drill")
def finish_drill(drill_id: int) -> None:
    with log_context(drill_id=drill_id):
        engine.finish(drill_id)


@shared_task(name="drills.tasks.measure_drill")
def measure_drill(drill_id: int) -> None:
    with log_context(drill_id=drill_id):
        engine.measure_failed(drill_id)


@shared_task(name="drills.tasks.canary_tick")
def canary_tick(drill_id: int) -> None:
    with log_context(drill_id=drill_id):
        canary.tick(drill_id)


@shared_task(name="drills.tasks.sweep_active_drills")
def sweep_active_drills() -> int:
    return engine.sweep()


@shared_task(name="drills.tasks.clean_up_resource")
def clean_up_resource(resource_id: int) -> None:
    resources.clean_up(resource_id)
