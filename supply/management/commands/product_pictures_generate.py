import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from core.transactions import publish
from supply import images
from supply.tasks import product_pictures_generate_task

BATCH_SIZE = 100


class Command(BaseCommand):
    help = ("Draw a generated picture (its category's colour, its title) for every product that has no picture, "
            "and redraw generated pictures whose product's title or category colour changed since. Idempotent. "
            "--enqueue hands the work to the Celery worker in batches instead (what `make run` does).")

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true",
                            help=f"send Celery tasks of {BATCH_SIZE} products each and return at once")
        parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    def handle(self, *args, **options):
        quiet = options["quiet"] or options["verbosity"] == 0
        started = time.monotonic()
        due = images.product_pictures_due()
        batches = [due[start:start + BATCH_SIZE] for start in range(0, len(due), BATCH_SIZE)]
        if options["enqueue"]:
            sent = sum(publish(product_pictures_generate_task, batch) for batch in batches)
            if not quiet:
                self.stdout.write(f"商品示意图 product pictures: {len(due)} due, {sent} of {len(batches)} batches sent "
                                  f"to the worker ({time.monotonic() - started:.1f} s)")
            return
        outcomes: dict[str, int] = {}
        with tqdm(total=len(due), disable=quiet, unit="picture", desc="商品示意图") as progress:
            for batch in batches:
                for outcome, count in images.product_pictures_generate(product_ids=batch).items():
                    outcomes[outcome] = outcomes.get(outcome, 0) + count
                progress.update(len(batch))
        if not quiet:
            summary = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items())) or "nothing due"
            self.stdout.write(f"商品示意图 product pictures: {summary} ({time.monotonic() - started:.1f} s)")
