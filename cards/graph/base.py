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
    label: str
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
    def ensure_schema(self, keys: tuple[UniqueKey, ...]) -> None:
        """Create the unique constraints (and the indexes behind them) if they are missing."""

    @abstractmethod
    def drop_all(self) -> None:
        """Delete every node and relationship of this graph (used to rebuild the projection, and by tests)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "GraphBackend":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
