"""FalkorDB adapter (dev and test): the graph module inside the embedded redis-server."""
import contextlib
from typing import Any
from urllib.parse import urlsplit

import redis
from falkordb import Edge, FalkorDB, Node, Path

from cards.graph.base import EdgeIndex, GraphBackend, GraphQueryError, GraphUnavailable, UniqueKey

_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most values: answered without the checks below (rows of hundreds of values)
        return value
    if isinstance(value, Node | Edge):
        return dict(value.properties)
    if isinstance(value, Path):
        return [dict(node.properties) for node in value.nodes()]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class FalkorDBBackend(GraphBackend):
    kind = "falkordb"

    def __init__(self, url: str, name: str):
        super().__init__(url, name)
        parts = urlsplit(url)
        try:  # the client asks the server whether it is a Sentinel as it connects
            self._db = FalkorDB(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 6379,
                username=parts.username or None,
                password=parts.password or None,
                socket_timeout=10,
                socket_connect_timeout=3,
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            raise GraphUnavailable(str(error)) from error
        self._graph = self._db.select_graph(name)

    def run(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            result = self._graph.query(cypher, params or {})
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            raise GraphUnavailable(str(error)) from error
        except redis.exceptions.ResponseError as error:
            raise GraphQueryError(str(error)) from error
        columns = [column[1] if isinstance(column, list | tuple) else column for column in result.header]
        columns = [column.decode() if isinstance(column, bytes) else column for column in columns]
        return [dict(zip(columns, [_plain(value) for value in row], strict=True)) for row in result.result_set]

    def plan(self, cypher: str, params: dict[str, Any] | None = None) -> str:
        """The execution plan FalkorDB would run (tests check that every query starts from an index)."""
        return str(self._graph.explain(cypher, params or {}))

    def health(self) -> dict[str, Any]:
        try:
            self.run("RETURN 1 AS ok")
            return {"ok": True, "backend": self.kind}
        except Exception as error:  # health reports, never raises
            return {"ok": False, "backend": self.kind, "error": f"{type(error).__name__}: {error}"}

    def ensure_schema(self, schema: tuple[UniqueKey | EdgeIndex, ...]) -> None:
        existing = {(row["label"], prop) for row in self.run("CALL db.indexes() YIELD label, properties")
                    for prop in row["properties"]}
        for item in schema:
            if isinstance(item, EdgeIndex):
                if (item.type, item.property) not in existing:
                    self.run(f"CREATE INDEX FOR ()-[r:{item.type}]-() ON (r.{item.property})")
            elif (item.label, item.property) not in existing:
                self.run(f"CREATE INDEX FOR (n:{item.label}) ON (n.{item.property})")
        existing_constraints = {
            (row["label"], tuple(row["properties"]))
            for row in self.run("CALL db.constraints() YIELD type, label, properties WHERE type = 'UNIQUE' "
                                "RETURN label, properties")
        }
        for key in schema:
            if isinstance(key, UniqueKey) and (key.label, (key.property,)) not in existing_constraints:
                try:
                    self._graph.create_node_unique_constraint(key.label, key.property)
                except redis.exceptions.ResponseError as error:
                    if "already exists" not in str(error).lower():
                        raise GraphQueryError(str(error)) from error

    def delete_graph(self) -> None:
        """Drop the whole graph key (tests use throwaway graph names)."""
        with contextlib.suppress(redis.exceptions.ResponseError):  # already gone
            self._graph.delete()

    def close(self) -> None:
        self._db.connection.close()
