"""The Celery app. Its settings are the Django settings prefixed CELERY_ (see config/settings.py).

With no CELERY_BROKER_URL configured, tasks run eagerly in the calling process, so the embedded run
and the test suite need no broker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chatsphere")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
