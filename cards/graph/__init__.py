"""The share graph port. The graph code is written once in Cypher; an adapter per backend differs only in
connection, parameters and schema statements. `get_graph()` picks the adapter from settings.GRAPH_URL:

- ``falkordb://host:port`` (dev/test: FalkorDB in the embedded redis-server),
- ``neo4j://user:password@host:7687`` or ``bolt://...`` (production).
"""
from urllib.parse import urlsplit

from django.conf import settings

from cards.graph.base import GraphBackend, GraphError, GraphQueryError, GraphUnavailable, UniqueKey

# The unique keys of the share graph's nodes (the schema both backends set up).
SCHEMA: tuple[UniqueKey, ...] = (
    UniqueKey("User", "id"),
    UniqueKey("Card", "id"),
    UniqueKey("Share", "id"),
    UniqueKey("Person", "key"),  # reps and visitors of the share graph ("u:<user id>" or "v:<device id>")
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


__all__ = ["SCHEMA", "GraphBackend", "GraphError", "GraphQueryError", "GraphUnavailable", "UniqueKey", "graph_backend"]
