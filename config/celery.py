"""The Celery app. Tasks only carry ids; the database holds the truth (see drills/engine.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("drdrill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
