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
from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections

from .clock import db_now
from .models import WorkerHeartbeat

log = logging.getLogger("drdrill.worker")
_stopping = threading.Event()


def consumed_queues() -> set[str]:
    """Set in the worker's main process (``-Q``) before its pool processes fork, so they share it."""
    queues = current_app.amqp.queues
    selected = queues.consume_from
    names = set(selected) if selected else set(queues)
    return names or {current_app.conf.task_default_queue}


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
