"""The Celery app. Queues: `default`, `graph` (share-graph projection), `ml` (training, scoring)."""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("graph"), Queue("ml"))
app.autodiscover_tasks()
