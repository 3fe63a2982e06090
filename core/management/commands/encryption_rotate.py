"""Re-encrypt every encrypted field value with the current key (the first of FIELD_ENCRYPTION_KEYS)."""
from django.core.management.base import BaseCommand

from core.crypto import encryption_rotate, key_ring


class Command(BaseCommand):
    help = "Re-encrypt stored values with the current FIELD_ENCRYPTION_KEYS key, so older keys can be dropped."

    def handle(self, *args, **options):
        changed = encryption_rotate()
        for purpose, count in changed.items():
            self.stdout.write(f"{purpose}: {count} values re-encrypted")
        self.stdout.write(f"every encrypted value now uses key {key_ring().current_id!r}")
