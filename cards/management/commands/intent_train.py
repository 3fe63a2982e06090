import json

from django.core.management.base import BaseCommand

from cards.services import intent
from cards.tasks import intent_train_task
from core.transactions import publish


class Command(BaseCommand):
    help = ("Train the intent model (意向度) on the card visits and orders, judge it on the held-out later period, "
            "register it (activated when calibrated and not worse than the active version) and score the leads. "
            "--enqueue hands it to a worker on the `ml` queue and returns at once.")

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="send the training task to the worker and return")

    def handle(self, *args, **options):
        if options["enqueue"]:
            sent = publish(intent_train_task)
            self.stdout.write("intent training sent to the worker (queue ml)" if sent else
                              self.style.WARNING("the broker did not take the task; run intent_train without "
                                                 "--enqueue, or wait for the daily run"))
            return
        result = intent.intent_model_train()
        self.stdout.write(f"{result.status}: {result.note}")
        for name in ("held_out", "held_out_walk_forward", "points_held_out"):
            report = result.metrics.get(name)
            if report:
                figures = {key: report[key] for key in ("n", "positives", "auc", "ece", "log_loss", "brier")}
                self.stdout.write(f"{name}: {json.dumps(figures)}")
        scored = intent.leads_score()
        self.stdout.write(self.style.SUCCESS(f"scored {scored['scored']} leads with {scored['model']} "
                                             f"(as of {scored['as_of']})"))
