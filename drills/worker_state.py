"""What a worker process knows of itself: the queues it serves (a step routed to another queue is
never run here), whether it is shutting down (then it takes no more steps in-process), and its
heartbeat, written every few seconds so a step routed to a queue no live worker serves says so."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from celery import current_app
from celery.signals import celeryd_after_setup, worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections

from .clock import db_now
from .models import WorkerHeartbeat

log = logging.getLogger("drdrill.worker")
_stopping = threading.Event()
# What this worker consumes, fixed when it set its queues up (before its pool processes fork, so they
# share it). Reading the app's queue table later would be wrong: sending a task to a queue adds that
# queue to the table, and a worker that merely sent a step to "site-b" would think it serves it.
_served: frozenset[str] | None = None


def consumed_queues() -> set[str]:
    if _served is not None:
        return set(_served)
    queues = current_app.amqp.queues
    selected = queues.consume_from
    names = set(selected) if selected else set(queues)
    return names or {current_app.conf.task_default_queue}


@celeryd_after_setup.connect(weak=False)
def fix_served_queues(sender: Any = None, instance: Any = None, **kwargs: Any) -> None:
    global _served
    _served = frozenset(consumed_queues())


def serves(queue: str | None) -> bool:
    return (queue or current_app.conf.task_default_queue) in consumed_queues()


def _stop_flag(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"drdrill-worker-{pid}.stopping"


def shutting_down() -> bool:
    """The main process marks its shutdown in a file its pool processes see (they get no signal of it
    until their current task ends, and a continued chain of steps must end first)."""
    return _stopping.is_set() or _stop_flag(os.getppid()).exists()


@worker_shutting_down.connect(weak=False)
def mark_shutting_down(**kwargs: Any) -> None:
    _stopping.set()
    try:
        _stop_flag(os.getpid()).touch()
    except OSError:
        pass


@worker_ready.connect(weak=False)
def start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    _stop_flag(os.getpid()).unlink(missing_ok=True)
    name = getattr(sender, "hostname", None) or f"worker@{os.getpid()}"
    threading.Thread(target=_beat, args=(name, sorted(consumed_queues())), name="drdrill-heartbeat", daemon=True).start()


def _beat(name: str, queues: list[str]) -> None:
    while True:
        try:
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(name=name, defaults={"queues": queues, "seen_at": db_now()})
        except Exception:  # a database hiccup must not kill the worker; the next beat tries again
            log.warning("could not write the worker heartbeat", exc_info=True)
        if _stopping.wait(settings.DRDRILL_HEARTBEAT_SECONDS):
            return
