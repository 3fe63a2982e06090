import os

from django.core.management.base import BaseCommand

from accounts.services import operator_ensure

DEFAULT_PHONE = "13800000000"
DEFAULT_PASSWORD = "mall-demo-2026"  # noqa: S105  (printed demo credential); production operators are created with createsuperuser


class Command(BaseCommand):
    help = "Create (or reset) the demo operator who logs into /admin/ and print the credentials."

    def handle(self, *args, **options):
        phone = os.environ.get("DEMO_OPERATOR_PHONE", DEFAULT_PHONE)
        password = os.environ.get("DEMO_OPERATOR_PASSWORD", DEFAULT_PASSWORD)
        _user, created = operator_ensure(phone=phone, password=password, nickname="演示运营 demo operator")
        self.stdout.write(self.style.SUCCESS(
            f"{'created' if created else 'kept'} demo operator: /admin/ login phone {phone} password {password}"))
