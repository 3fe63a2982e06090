"""The share graph port. The graph code is written once in Cypher; an adapter per backend differs only in
connection, parameters and schema statements. `get_graph()` picks the adapter from settings.GRAPH_URL:

- ``falkordb://host:port`` (dev/test: FalkorDB in the embedded redis-server),
- ``neo4j://user:password@host:7687`` or ``bolt://...`` (production).
"""
import os
import threading
from urllib.parse import urlsplit

from django.conf import settings

from cards.graph.base import EdgeIndex, GraphBackend, GraphError, GraphQueryError, GraphUnavailable, UniqueKey

# The share graph's schema, set up the same way on both backends (cards/projection.py describes the shape).
# Every query starts from a node found by its key (a person, a card); the relationship indexes serve the
# queries that start from "every relationship of card C" (a whole card's counts, the rebuild's sweep).
SCHEMA: tuple[UniqueKey | EdgeIndex, ...] = (
    UniqueKey("Person", "key"),  # reps and visitors ("u:<user id>" or "v:<device id>")
    UniqueKey("Card", "id"),
    EdgeIndex("REFERRED", "card"),
    EdgeIndex("SHARED", "card"),
    EdgeIndex("CONVERTED", "card"),
)


def graph_backend(url: str | None = None, name: str | None = None) -> GraphBackend:
    """A new connection to the graph at `url` (default settings.GRAPH_URL). Callers close it (or use `with`)."""
    url = url or settings.GRAPH_URL
    name = name or settings.GRAPH_NAME
    scheme = urlsplit(url).scheme
    if scheme in ("falkordb", "redis"):
        from cards.graph.falkordb import FalkorDBBackend

        return FalkorDBBackend(url, name)
    if scheme.split("+")[0] in ("neo4j", "bolt"):
        from cards.graph.neo4j import Neo4jBackend

        return Neo4jBackend(url, name)
    raise ValueError(f"GRAPH_URL scheme {scheme!r} is not supported: use falkordb://, neo4j:// or bolt://")


_shared: dict[str, GraphBackend] = {}
_shared_lock = threading.Lock()


def graph_shared() -> GraphBackend:
    """This process's long-lived connection to the configured graph, for reads on the request path (both drivers
    pool their connections and are safe across threads): a request does not pay for a new connection. Never
    closed by callers; a forked process makes its own."""
    key = f"{os.getpid()}:{settings.GRAPH_URL}:{settings.GRAPH_NAME}"
    backend = _shared.get(key)
    if backend is None:
        with _shared_lock:
            backend = _shared.get(key)
            if backend is None:
                backend = _shared[key] = graph_backend()
    return backend


def graph_shared_close() -> None:
    """Close this process's shared connections (tests that point GRAPH_URL or GRAPH_NAME elsewhere, shutdown)."""
    with _shared_lock:
        backends = list(_shared.values())
        _shared.clear()
    for backend in backends:
        backend.close()


__all__ = [
    "SCHEMA",
    "EdgeIndex",
    "GraphBackend",
    "GraphError",
    "GraphQueryError",
    "GraphUnavailable",
    "UniqueKey",
    "graph_backend",
    "graph_shared",
]
