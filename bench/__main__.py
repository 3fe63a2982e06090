"""python -m bench [name ...]: set up Django on the configured services, make sure the demo is loaded, run benches."""
import os
import sys
import time

BENCHES = ["checkout"]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")  # timers run in-process; no worker needed
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # eager timer tasks would log every order
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_demo", "--quiet")
    print(f"setup (migrate + load_demo): {time.perf_counter() - started:.1f} s")
    for name in argv or BENCHES:
        module = __import__(f"bench.{name}", fromlist=["run"])
        print(f"\n== bench/{name}.py ==")
        module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
