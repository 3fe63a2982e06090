from django.apps import AppConfig

from cards.graph import graph_backend
from core.health import probe_register


def graph_probe() -> None:
    """The health probe of the share graph: does the configured server answer?"""
    with graph_backend() as graph:
        report = graph.health()
    if not report["ok"]:
        raise ConnectionError(report.get("error", "graph unavailable"))


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "智能名片 Cards"

    def ready(self) -> None:
        probe_register("graph", graph_probe)
