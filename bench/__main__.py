"""python -m bench [name ...]: set up Django on the configured services, make sure the demo is loaded, run benches.

Each bench prints its figures and ends with one `BENCH <name> key=value ...` summary line."""
import base64
import hashlib
import os
import sys
import time

BENCHES = ["events", "checkout", "search", "cards"]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The bench's own database (var/bench) and its production-configured server share one key for encrypted fields:
    # a fixed one, for benchmark data only.
    bench_key = base64.b64encode(hashlib.sha256(b"bench").digest()).decode()
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", f"bench:{bench_key}")
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    call_command("load_demo", "--quiet")
    call_command("load_demo_cards", "--quiet")
    print(f"setup (migrate + load_demo + load_demo_cards): {time.perf_counter() - started:.1f} s", flush=True)
    for name in argv or BENCHES:
        module = __import__(f"bench.{name}", fromlist=["run"])
        print(f"\n== bench/{name}.py ==", flush=True)
        module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
