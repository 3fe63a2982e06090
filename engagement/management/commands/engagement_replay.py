"""python manage.py engagement_replay: reset the rules engine and read the whole event log again."""
from django.core.management.base import BaseCommand

from engagement.services.replay import engine_replay


class Command(BaseCommand):
    help = ("Reset the rules engine (awards, ledger, levels, its facts) and replay every behaviour event from the "
            "start; prints the balances' fingerprint before and after (they are the same when no rule changed).")

    def handle(self, *args, **options):
        result = engine_replay()
        before, after = result["before"], result["after"]
        self.stdout.write(f"events read: {result['events']}")
        for name, print_ in (("before", before), ("after", after)):
            self.stdout.write(f"{name}: {print_['accounts']} accounts, balance {print_['balance']}, debt "
                              f"{print_['debt']}, sha256 {print_['sha256']}")
        self.stdout.write(f"same balances: {'yes' if before == after else 'no'}")
