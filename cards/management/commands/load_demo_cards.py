import time

from django.core.management.base import BaseCommand, CommandError

from cards.demo import demo_cards_load
from cards.tasks import intent_train_task
from core.ml.registry import model_version_active
from core.transactions import publish


class Command(BaseCommand):
    help = ("Add the business cards to the demo (after load_demo): a published card for each demo store's staff, a "
            "seeded share forest and the demo customers as visitors before their real orders. Idempotent: a second "
            "run writes nothing. See docs/demo-data.md, 'Business cards'.")

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="no progress lines")
        parser.add_argument("--train", action="store_true",
                            help="then hand the intent model's training to the worker (queue ml) when this run wrote "
                                 "the history or no model is active yet (what `make run` does)")

    def handle(self, *args, **options):
        quiet = options["quiet"] or options["verbosity"] == 0
        say = (lambda _message: None) if quiet else self.stdout.write
        started = time.monotonic()
        try:
            counts = demo_cards_load(say=say)
        except KeyboardInterrupt:
            raise CommandError("interrupted: nothing of the cards' history was written; run load_demo_cards again",
                               returncode=130) from None
        if options["train"] and (counts["visits"] or model_version_active(name="cards.intent") is None):
            sent = publish(intent_train_task)
            say("意向度模型训练已交给 worker the intent model's training was handed to the worker" if sent else
                "the broker did not take the training task: run `manage.py intent_train`")
        if not quiet:
            self.stdout.write(self.style.SUCCESS(
                f"load_demo_cards finished in {time.monotonic() - started:.1f} s: "
                + ", ".join(f"{name} {value}" for name, value in counts.items())))
