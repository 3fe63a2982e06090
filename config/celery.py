"""The Celery app. Queues: `default`, `graph` (share-graph projection), `ml` (training, scoring), `media` (drawing
product pictures)."""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("graph"), Queue("ml"), Queue("media"))
app.autodiscover_tasks()
