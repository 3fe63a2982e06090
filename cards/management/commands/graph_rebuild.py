import time

from django.core.management.base import BaseCommand, CommandError

from cards.graph import GraphUnavailable
from cards.projection import graph_rebuild


class Command(BaseCommand):
    help = ("Rebuild the share graph from the PostgreSQL rows (cards, shares, referrals, converted leads) in place: "
            "the graph keeps answering meanwhile, the projection consumer waits, and what no row says any more is "
            "swept away at the end.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000, help="rows written per graph statement")

    def handle(self, *args, batch_size: int, **options):
        started = time.perf_counter()
        try:
            counts = graph_rebuild(batch_size=batch_size)
        except GraphUnavailable as error:
            raise CommandError(f"the share graph cannot be reached: {error}") from error
        except TimeoutError as error:
            raise CommandError(str(error)) from error
        figures = ", ".join(f"{name} {count}" for name, count in counts.items())
        self.stdout.write(f"share graph rebuilt in {time.perf_counter() - started:.1f} s: {figures}")
