import _thread
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg2
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from mall.demo import demo_load, demo_staff_passwords_set

DEFAULT_STAFF_PASSWORD = "mall-demo-2026"  # noqa: S105  (printed demo credential)
INTERRUPTED_EXIT_CODE = 130  # what a shell reports for a command stopped by SIGINT


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
        interrupted = threading.Event()
        try:
            try:
                with _statements_cancelled_on_interrupt(interrupted):
                    report = demo_load(data_dir=options["data"] or default_data_dir(), limit_invoices=limit,
                                       progress=not quiet, say=say)
            except (DatabaseError, psycopg2.Error):
                # Cancelled by the watcher, or a COPY whose read() got the KeyboardInterrupt: psycopg2 ends the COPY
                # and reports the failure as a database error.
                if not interrupted.is_set():
                    raise
                raise KeyboardInterrupt from None
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        except KeyboardInterrupt:
            raise CommandError("interrupted: the phase in progress was rolled back, the phases before it are kept; "
                               "run load_demo again to resume", returncode=INTERRUPTED_EXIT_CODE) from None
        password = os.environ.get("DEMO_STAFF_PASSWORD", DEFAULT_STAFF_PASSWORD)
        staff = demo_staff_passwords_set(password=password)
        if not quiet:
            self.stdout.write(f"console logins (/supplier/, /merchant/): {', '.join(staff)} password {password}")
            self.stdout.write("supplier API tokens (shown once): python manage.py supplier_token_rotate <supplier id>")
            self.stdout.write("数据库中 stored: " + _pairs(report["stored"]))
            self.stdout.write("本次写入 written this run: " + _pairs(report["written"]))
            if "cancellations" in report:
                self.stdout.write("历史退货 cancellation rows: " + _pairs(report["cancellations"]))
            self.stdout.write(self.style.SUCCESS(f"load_demo finished in {time.monotonic() - started:.1f} s"))


@contextmanager
def _statements_cancelled_on_interrupt(interrupted: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) stops the load at once, also in the middle of a long statement (a COPY, or the commit that
    checks a few million foreign keys). Python runs signal handlers only between bytecodes, not while the main thread
    waits for PostgreSQL, so a watcher thread woken through `signal.set_wakeup_fd` cancels the statement in flight
    (libpq's cancel request is made to be sent from another thread). The first SIGINT raises KeyboardInterrupt as
    usual; later ones while loading (a terminal's and then a supervisor's) are ignored, so they cannot break the
    rollback. Signals reach only the main thread: elsewhere the load runs without this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    database = connections[DEFAULT_DB_ALIAS]  # the main thread's connection, reached from the watcher
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)

    def on_interrupt(_signum, frame):
        interrupted.set()
        if raised:
            return
        if frame is not None and frame.f_globals.get("__name__", "").startswith("encodings."):
            # psycopg2 is decoding the cancelled statement's error message: an exception raised inside its codec
            # call is printed and lost. Ask again in a moment, when the driver is back in Python code (unless the
            # load is over by then: the cancelled statement's error has ended it).
            retry = threading.Timer(0.05, lambda: None if closed.is_set() else _thread.interrupt_main())
            retry.start()
            retries.append(retry)
            return
        raised.append(True)
        raise KeyboardInterrupt

    def watch() -> None:
        cancelled = False
        while data := os.read(wakeup_read, 64):
            if signal.SIGINT in data and not cancelled:
                cancelled = True
                interrupted.set()
                raw = database.connection
                if raw is not None:
                    with suppress(Exception):  # a connection closing at this moment has nothing left to cancel
                        raw.cancel()

    raised: list[bool] = []
    retries: list[threading.Timer] = []
    closed = threading.Event()
    previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    previous_wakeup = signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, name="load_demo-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        closed.set()
        for retry in retries:
            retry.cancel()
        signal.set_wakeup_fd(previous_wakeup)
        signal.signal(signal.SIGINT, previous_handler)
        os.close(wakeup_write)  # the watcher reads the end of the pipe and returns
        watcher.join(timeout=5)
        os.close(wakeup_read)


def _pairs(counts: dict) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items())
