from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from supply.models import Supplier
from supply.services import supplier_token_rotate


class Command(BaseCommand):
    help = ("Issue a new API token for a supplier (by id or exact company name) and print it once. The old token "
            "stops working at once; only the new token's hash is stored, so keep the printed token: it cannot be "
            "shown again. The demo suppliers (load_demo) get their tokens this way.")

    def add_arguments(self, parser):
        parser.add_argument("supplier", help="the supplier's id or its exact company name")

    def handle(self, *args, **options):
        wanted = options["supplier"].strip()
        supplier = Supplier.objects.filter(name=wanted).first()
        if supplier is None and wanted.isdigit():
            supplier = Supplier.objects.filter(pk=int(wanted)).first()
        if supplier is None:
            raise CommandError(f"no supplier with id or name {wanted!r}")
        try:
            issued = supplier_token_rotate(supplier_id=supplier.pk, actor=None)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"supplier {issued.supplier.pk} {issued.supplier.name}: new API token (shown once, "
                          f"the old one no longer works):")
        self.stdout.write(issued.token)
