"""The Celery app. Tasks only carry ids; the database holds the truth (see drills/engine.py)."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun
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
