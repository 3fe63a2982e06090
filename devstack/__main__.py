"""python -m devstack run | exec -- CMD ... | smoke

run    `make run`: services, migrations, demo operator and data, then Celery worker + beat + web on WEB_PORT (8000)
       until Ctrl-C, which stops everything this started.
exec   `make test`: services (instance "test"), then CMD with DATABASE_URL/REDIS_URL/GRAPH_URL set; exits with
       CMD's code after stopping what it started.
smoke  `make smoke`: starts `run` in the background on a free port, waits for /healthz, calls a few endpoints,
       stops it with SIGINT and checks that no process it started is left.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil

from devstack.services import free_port
from devstack.stack import PROJECT_ROOT, AlreadyRunning, Stack, log

# Setup steps of `make run`, in order. Each is idempotent: a second `make run` reuses the data.
SETUP_COMMANDS: list[list[str]] = [
    ["migrate", "--noinput"],
    ["collectstatic", "--noinput", "--verbosity", "0"],
    ["create_demo_operator"],
    ["load_demo"],
    # Cards for the demo stores' staff, a seeded share forest and the customers' visits before their orders (6.5 s
    # the first time on a quiet machine), then the intent model's training handed to the worker (the `ml` queue),
    # which scores the leads about 10 s after the worker starts.
    ["load_demo_cards", "--train"],
    # About 3,800 pictures take the worker a few minutes: handed to it here (in batches) so the demo is up at once
    # and fills in; a later run sends only products still without one, or whose title changed.
    ["product_pictures_generate", "--enqueue"],
]


def command_run() -> int:
    port = int(os.environ.get("WEB_PORT", "8000"))
    # Until `watch` takes over, SIGTERM (`kill <pid>`) stops everything the way Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    with Stack(os.environ.get("DEVSTACK_INSTANCE", "run"), durable=True) as stack:
        # The demo's orders are from 2010-2011: its dashboards open on the day of the latest paid order.
        stack.env.setdefault("DASHBOARD_DEFAULT_DAY", "latest")
        # ... and leads are scored as of the latest card visit, not today (cards/services/intent.py).
        stack.env.setdefault("CARDS_INTENT_AS_OF", "latest")
        for step in SETUP_COMMANDS:
            log(f"manage.py {' '.join(step)}")
            stack.manage(*step)
        python = sys.executable
        stack.spawn("worker", [python, "-m", "celery", "-A", "config", "worker", "-Q", "default,graph,ml,media",
                               "--concurrency", "2", "--loglevel", "INFO", "--hostname", f"worker-{port}@%h"])
        stack.spawn("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                             "--schedule", str(stack.root / "celerybeat-schedule")])
        # config/gunicorn.py: the setup the benchmarks and docker-compose use too (2 workers x 4 threads).
        stack.spawn("web", [python, "-m", "gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py",
                            "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"])
        base = f"http://127.0.0.1:{port}"
        if _wait_healthy(base, timeout=120):
            log(f"ready: {base}/  API docs: {base}/api/docs/  admin: {base}/admin/  health: {base}/healthz")
            log("Ctrl-C stops everything started here.")
        else:
            log(f"web did not report healthy at {base}/healthz yet; see the logs above")
        return stack.watch()


def _raise_keyboard_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def command_exec(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python -m devstack exec -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with Stack(os.environ.get("DEVSTACK_INSTANCE", "test"), durable=False) as stack:
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=stack.env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own localhost URL)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_healthy(base: str, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = _get(f"{base}/healthz", timeout=3)
            if status == 200:
                return True
        except OSError:
            pass
        time.sleep(1)
    return False


def command_smoke() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    supervisor = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=PROJECT_ROOT,
                                  env={**os.environ, "WEB_PORT": str(port)})
    failures: list[str] = []
    descendants: list = []
    try:
        # The first run loads the demo (about 25 s here); the limit leaves room for a much slower machine.
        if not _wait_healthy(base, timeout=300):
            failures.append("/healthz did not answer 200 within 300 s")
        else:
            log(f"smoke: healthy after {time.monotonic() - started:.1f} s")
            descendants = psutil.Process(supervisor.pid).children(recursive=True)
            status, body = _get(f"{base}/healthz")
            health = json.loads(body)
            for part in ("database", "broker", "graph"):
                if health.get(part, {}).get("status") != "ok":
                    failures.append(f"/healthz {part} is not ok: {health.get(part)}")
            status, body = _get(f"{base}/api/docs/")
            if status != 200 or b"swagger" not in body.lower():
                failures.append(f"/api/docs/ answered {status}")
            status, body = _get(f"{base}/api/schema/")
            if status != 200 or b"openapi" not in body:
                failures.append(f"/api/schema/ answered {status}")
            status, reply = _post_json(f"{base}/api/v1/auth/code", {"phone": "not-a-phone"})
            if status != 400 or reply.get("code") != "invalid":
                failures.append(f"bad phone: expected 400 invalid, got {status} {reply}")
            status, reply = _post_json(f"{base}/api/v1/auth/login", {"phone": "13800138000", "code": "000000"})
            if status not in (400, 401) or "code" not in reply:
                failures.append(f"login without a code sent: expected a 4xx error, got {status} {reply}")
            status, _ = _get(f"{base}/admin/login/")
            if status != 200:
                failures.append(f"/admin/login/ answered {status}")
    finally:
        supervisor.send_signal(signal.SIGINT)
        try:
            supervisor.wait(90)
        except subprocess.TimeoutExpired:
            failures.append("make run did not stop within 90 s of SIGINT")
            supervisor.kill()
    leftovers = [f"{p.pid}: {' '.join(p.cmdline())[:120]}" for p in descendants if _alive(p)]
    leftovers += _processes_of_instance("run")
    if leftovers:
        failures.append(f"processes left after stop: {leftovers}")
    for failure in failures:
        log(f"smoke FAILED: {failure}")
    if not failures:
        log("smoke: all checks passed, nothing left running")
    return 1 if failures else 0


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _processes_of_instance(instance: str) -> list[str]:
    root = str(PROJECT_ROOT / "var" / instance)
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if root in cmdline:
                found.append(f"{process.info['pid']}: {cmdline[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "run":
            return command_run()
        if command == "exec":
            return command_exec(rest)
        if command == "smoke":
            return command_smoke()
    except AlreadyRunning as error:
        log(str(error))
        return 3
    except KeyboardInterrupt:
        log("interrupted; everything started here is stopped")
        return 130
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
