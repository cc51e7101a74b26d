"""Celery tasks: thin wrappers that take ids and call the engine. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import engine


@shared_task(name="drills.tasks.advance_drill")
def advance_drill(drill_id: int) -> None:
    engine.advance(drill_id)


@shared_task(name="drills.tasks.run_step")
def run_step(step_run_id: int) -> None:
    engine.execute(step_run_id)


@shared_task(name="drills.tasks.finish_drill")
def finish_drill(drill_id: int) -> None:
    engine.finish(drill_id)


@shared_task(name="drills.tasks.measure_drill")
def measure_drill(drill_id: int) -> None:
    engine.measure_failed(drill_id)


@shared_task(name="drills.tasks.canary_tick")
def canary_tick(drill_id: int) -> None:
    engine.canary_tick(drill_id)


@shared_task(name="drills.tasks.sweep_active_drills")
def sweep_active_drills() -> int:
    return engine.sweep()
