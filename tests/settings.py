"""Test settings: the real services (devstack fills the URLs), tasks eager unless a test sends to a real worker."""
import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("CACHE_KEY_PREFIX", "test-mall")
os.environ.setdefault("GRAPH_NAME", "test_share_graph")
# A fixed AES-256 key for the tests only (core/crypto.py).
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "t2:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")

from config.settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = True
SMS_BACKEND = "accounts.sms.MemorySmsBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests create many users
