"""The Celery app. Tasks only carry ids; the database holds the truth (see drills/engine.py)."""

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup, task_prerun
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Celery runs Django's system checks when a worker starts, which loads the URL configuration and
# with it every view, form and chart library (matplotlib alone is tens of MiB per process). The web
# server, `manage.py check` and CI run the checks; a worker runs steps (docs/operations.md).
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")
# The embedded broker ("filesystem://") with atomic writes: see config/filesystem_broker.py.
TRANSPORT_ALIASES["filesystem"] = "config.filesystem_broker:Transport"

app = Celery("drdrill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect(weak=False)
def replace_broken_connections(**kwargs: Any) -> None:
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX); this drops one
    that is broken or past CONN_MAX_AGE before the task uses it."""
    from django.db import close_old_connections

    close_old_connections()


@celeryd_after_setup.connect(weak=False)
def share_memory_with_the_pool(**kwargs: Any) -> None:
    """Just before the pool processes fork: load what every one of them would load on its own (the
    URL configuration, which a notification's link needs), then move every object to the garbage
    collector's permanent generation, so that a collection in a pool process does not write to — and
    so copy — the pages it shares with this one (docs/performance.md: memory)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module once, here
    gc.collect()
    gc.freeze()
