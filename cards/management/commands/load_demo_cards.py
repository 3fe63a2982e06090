import time

from django.core.management.base import BaseCommand, CommandError

from cards.demo import demo_cards_load


class Command(BaseCommand):
    help = ("Add the business cards to the demo (after load_demo): a published card for each demo store's staff, a "
            "seeded share forest and the demo customers as visitors before their real orders. Idempotent: a second "
            "run writes nothing. See docs/demo-data.md, 'Business cards'.")

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args, **options):
        quiet = options["quiet"] or options["verbosity"] == 0
        say = (lambda _message: None) if quiet else self.stdout.write
        started = time.monotonic()
        try:
            counts = demo_cards_load(say=say)
        except KeyboardInterrupt:
            raise CommandError("interrupted: nothing of the cards' history was written; run load_demo_cards again",
                               returncode=130) from None
        if not quiet:
            self.stdout.write(self.style.SUCCESS(
                f"load_demo_cards finished in {time.monotonic() - started:.1f} s: "
                + ", ".join(f"{name} {value}" for name, value in counts.items())))
