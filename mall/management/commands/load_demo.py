import os
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mall.demo import demo_load, demo_staff_passwords_set

DEFAULT_STAFF_PASSWORD = "mall-demo-2026"  # noqa: S105  (printed demo credential)


def default_data_dir() -> Path:
    """SHARED_DATA_DIR if set, else the shared data folder next to the project (../shared/data)."""
    configured = os.environ.get("SHARED_DATA_DIR")
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR).resolve().parent / "shared" / "data"


class Command(BaseCommand):
    help = ("Build the demo mall (suppliers, catalogue, stores, customers, orders, refunds, behaviour events) from "
            "the UCI Online Retail data. Idempotent: a second run writes nothing. See docs/demo-data.md.")

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=None,
                            help="shared data folder holding online_retail/online_retail.csv.gz "
                                 "(default: $SHARED_DATA_DIR, else <project>/../shared/data)")
        parser.add_argument("--limit-invoices", type=int, default=None, metavar="N",
                            help="load only the first N invoices by date (for tests); catalogue and customers stay "
                                 "complete")
        parser.add_argument("--quiet", action="store_true", help="no progress bars and no summary")

    def handle(self, *args, **options):
        limit = options["limit_invoices"]
        if limit is not None and limit < 0:
            raise CommandError("--limit-invoices must be 0 or more")
        quiet = options["quiet"] or options["verbosity"] == 0
        say = (lambda _message: None) if quiet else self.stdout.write
        started = time.monotonic()
        try:
            report = demo_load(data_dir=options["data"] or default_data_dir(), limit_invoices=limit,
                               progress=not quiet, say=say)
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        password = os.environ.get("DEMO_STAFF_PASSWORD", DEFAULT_STAFF_PASSWORD)
        staff = demo_staff_passwords_set(password=password)
        if not quiet:
            self.stdout.write(f"console logins (/supplier/, /merchant/): {', '.join(staff)} password {password}")
            self.stdout.write("数据库中 stored: " + _pairs(report["stored"]))
            self.stdout.write("本次写入 written this run: " + _pairs(report["written"]))
            if "cancellations" in report:
                self.stdout.write("历史退货 cancellation rows: " + _pairs(report["cancellations"]))
            self.stdout.write(self.style.SUCCESS(f"load_demo finished in {time.monotonic() - started:.1f} s"))


def _pairs(counts: dict) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items())
