"""Participation: points ledger, task rules, rewards, levels, UGC and moderation, RFM seed users, campaigns."""
from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "engagement"
    verbose_name = "用户运营 Engagement"

    def ready(self) -> None:
        # Checkout adjustments (member privileges, points) register with the mall's hook in every process that may
        # price an order. The engine's consumer is registered again now that every app's events.py has declared
        # its kinds (core imports them all before this runs), so a reactor of a kind declared by an app to
        # engagement's right is read too.
        from engagement.events import rules_consumer_register
        from engagement.services import checkout  # noqa: F401

        rules_consumer_register()
