import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.sms import MemorySmsBackend
from tests.factories import UserFactory

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _media_in_a_temporary_folder(tmp_path_factory):
    """Pictures the tests store (through the default storage, local files) go to a folder of this run only."""
    from django.test.utils import override_settings

    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache_and_outbox():
    """Throttle counters live in the real Redis: each test starts with none of ours (other keys are left alone)."""
    client = cache._cache.get_client(write=True)
    prefix = cache.key_prefix
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    MemorySmsBackend.outbox.clear()
    yield


@pytest.fixture(autouse=True)
def _provinces(request):
    """Transactional tests flush every table, data-migration rows included: put the provinces back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "db" not in request.fixturenames:
        return
    from supply.regions import regions_ensure

    transactional = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    request.getfixturevalue("transactional_db" if transactional else "db")
    regions_ensure()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def shopper(db):
    return UserFactory()


@pytest.fixture
def shopper_client(shopper) -> APIClient:
    client = APIClient()
    client.force_authenticate(shopper)
    return client


@pytest.fixture
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker process consuming the real broker, connected to the test database.

    `tests.core.event_probe` is imported into it (-I) so it knows the probe event handler.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        test_database = connection.settings_dict["NAME"]
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{test_database}"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "CELERY_TASK_ALWAYS_EAGER": "0"}
    hostname = f"pytest-{os.getpid()}@localhost"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,graph,ml,media", "--pool", "solo",
         "--hostname", hostname, "--loglevel", "WARNING", "-I", "tests.core.event_probe", "--without-heartbeat",
         "--without-mingle", "--without-gossip"],
        cwd=PROJECT_ROOT, env=env,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}")
        if app.control.ping(destination=[hostname], timeout=1.0):
            break
    else:
        process.kill()
        raise RuntimeError("celery worker did not answer ping within 60 s")
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


# --- a local WeChat (tests/wechat_server.py) --------------------------------------------------------------------
WECHAT_APPID = "wx5f2a0d1b3c4e6a78"
WECHATPAY_MCHID = "1900009191"
WECHATPAY_NOTIFY_URL = "https://mall.example.com/api/v1/payments/callback/wechatpay"


@pytest.fixture(scope="session")
def wechat_keys():
    """The merchant's and WeChat Pay's keys, generated once per test run."""
    from tests.wechat_server import Keys

    return Keys()


@pytest.fixture
def wechat(settings, wechat_keys):
    """A local WeChat (mini-program API and WeChat Pay API v3) on a free port, and the settings that point WeChat
    login and the WeChat Pay provider (enabled beside the simulated gateway) at it."""
    from tests.wechat_server import LocalWechat, private_pem, public_pem

    server = LocalWechat(keys=wechat_keys, appid=WECHAT_APPID, secret="test-secret-" + "0" * 20,
                         mchid=WECHATPAY_MCHID).start()
    settings.WECHAT_MINIPROGRAM_APPID = server.appid
    settings.WECHAT_MINIPROGRAM_SECRET = server.secret
    settings.WECHAT_API_BASE_URL = server.url
    settings.WECHATPAY_MCHID = server.mchid
    settings.WECHATPAY_APPID = server.appid
    settings.WECHATPAY_PRIVATE_KEY = private_pem(wechat_keys.merchant)
    settings.WECHATPAY_CERT_SERIAL_NO = wechat_keys.merchant_serial
    settings.WECHATPAY_APIV3_KEY = wechat_keys.apiv3_key
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY = public_pem(wechat_keys.platform)
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID = wechat_keys.platform_key_id
    settings.WECHATPAY_NOTIFY_URL = WECHATPAY_NOTIFY_URL
    settings.WECHATPAY_BASE_URL = server.url
    settings.PAYMENT_PROVIDERS = [settings.SIMULATED_GATEWAY, settings.WECHATPAY_PROVIDER]
    yield server
    server.stop()
