"""A gunicorn server for benchmarks: the setup of `make run` (config/gunicorn.py: 2 workers x 4 threads) with
production settings (debug off, the simulated gateway named explicitly with a fresh secret), on the database and
Redis the bench process uses, serving bench/urls.py."""
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.services import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def production_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_TASK_ALWAYS_EAGER")}
    env.update(
        DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(40), DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_COOKIES="0", DJANGO_ROOT_URLCONF="bench.urls", DJANGO_SETTINGS_MODULE="config.settings",
        PAYMENT_PROVIDERS="mall.services.payment_providers.SimulatedGateway",
        PAYMENT_SIMULATED_SECRET=secrets.token_urlsafe(32), LOG_LEVEL="WARNING", CELERY_TASK_ALWAYS_EAGER="0",
    )
    env.update(extra)
    return env


@contextmanager
def production_server() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=production_env(), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/bench/bare", timeout=2) as response:  # noqa: S310 (ours)
                    if response.status == 204:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
