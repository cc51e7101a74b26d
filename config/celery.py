"""The Celery app. Tasks only carry ids; the database holds the truth (see drills/engine.py)."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The embedded broker ("filesystem://") with atomic writes: see config/filesystem_broker.py.
TRANSPORT_ALIASES["filesystem"] = "config.filesystem_broker:Transport"

app = Celery("drdrill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
