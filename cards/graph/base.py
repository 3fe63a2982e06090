"""The port every graph backend implements."""
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


class GraphError(Exception):
    """A graph request failed."""


class GraphUnavailable(GraphError):
    """The graph server cannot be reached."""


class GraphQueryError(GraphError):
    """The server refused the query (syntax, a unique constraint, a type error)."""


@dataclass(frozen=True)
class UniqueKey:
    """A node property that identifies the node (a unique constraint, and the index behind it)."""

    label: str
    property: str


@dataclass(frozen=True)
class EdgeIndex:
    """An index on a relationship property: queries that start from "every relationship of card C" use it."""

    type: str
    property: str


class GraphBackend(ABC):
    """run(cypher, params) -> rows as dicts of plain values (nodes and relationships become property dicts,
    paths become lists of node property dicts), so callers never see a driver's types."""

    kind: str

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name

    @abstractmethod
    def run(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """{"ok": bool, "backend": kind, ...}; never raises."""

    @abstractmethod
    def ensure_schema(self, schema: tuple[UniqueKey | EdgeIndex, ...]) -> None:
        """Create the unique constraints (and the indexes behind them) and the relationship indexes that are
        missing; an existing one is left as it is."""

    def drop_all(self, *, batch: int = 10_000) -> None:
        """Delete every node and relationship of this graph (tests; a rebuild never needs it), in batches so a
        large graph is not one huge transaction."""
        while self.run(f"MATCH (n) WITH n LIMIT {int(batch)} DETACH DELETE n RETURN count(*) AS n")[0]["n"]:
            pass

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "GraphBackend":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
