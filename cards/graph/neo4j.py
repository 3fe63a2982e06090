"""Neo4j adapter (production, Bolt). Credentials come from the URL: neo4j://user:password@host:7687."""
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import neo4j
from neo4j.exceptions import Neo4jError, ServiceUnavailable
from neo4j.graph import Node, Path, Relationship

from cards.graph.base import EdgeIndex, GraphBackend, GraphQueryError, GraphUnavailable, UniqueKey


def _plain(value: Any) -> Any:
    if isinstance(value, Node | Relationship):
        return dict(value.items())
    if isinstance(value, Path):
        return [dict(node.items()) for node in value.nodes]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class Neo4jBackend(GraphBackend):
    kind = "neo4j"

    def __init__(self, url: str, name: str):
        super().__init__(url, name)
        parts = urlsplit(url)
        address = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 7687}", "", "", ""))
        auth = (parts.username, parts.password or "") if parts.username else None
        self._driver = neo4j.GraphDatabase.driver(address, auth=auth, connection_timeout=5)
        # Community edition has one user database; GRAPH_NAME picks a database only where one exists by that name.
        self._database = parts.path.strip("/") or None

    def run(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            records, _summary, keys = self._driver.execute_query(cypher, params or {}, database_=self._database)
        except ServiceUnavailable as error:
            raise GraphUnavailable(str(error)) from error
        except Neo4jError as error:
            raise GraphQueryError(str(error)) from error
        return [{key: _plain(record[key]) for key in keys} for record in records]

    def health(self) -> dict[str, Any]:
        try:
            self._driver.verify_connectivity()
            self.run("RETURN 1 AS ok")
            return {"ok": True, "backend": self.kind}
        except Exception as error:  # health reports, never raises
            return {"ok": False, "backend": self.kind, "error": f"{type(error).__name__}: {error}"}

    def ensure_schema(self, schema: tuple[UniqueKey | EdgeIndex, ...]) -> None:
        for item in schema:
            if isinstance(item, EdgeIndex):
                self.run(f"CREATE INDEX {item.type.lower()}_{item.property} IF NOT EXISTS "
                         f"FOR ()-[r:{item.type}]-() ON (r.{item.property})")
            else:
                self.run(f"CREATE CONSTRAINT {item.label.lower()}_{item.property}_unique IF NOT EXISTS "
                         f"FOR (n:{item.label}) REQUIRE n.{item.property} IS UNIQUE")

    def close(self) -> None:
        self._driver.close()
