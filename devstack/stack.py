"""The devstack supervisor: services up, environment filled, child processes watched, everything stopped at the end.

Rule: an existing server always wins. DATABASE_URL, REDIS_URL and GRAPH_URL set in the environment are used as
they are; only what is missing is started here, and only what was started here is stopped here.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from devstack.services import (
    EmbeddedPostgres,
    EmbeddedRedis,
    State,
    die_with_parent,
    redis_has_graph_module,
    stop_process,
    stop_processes,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A setup command (migrate, load_demo, ...) interrupted by Ctrl-C: SIGINT (load_demo cancels its statement and rolls
# the phase back, in well under a second), then SIGTERM, then SIGKILL.
MANAGE_STOP: tuple[tuple[int, float], ...] = ((signal.SIGINT, 2.5), (signal.SIGTERM, 1.0))
# worker, beat and web: SIGTERM is their graceful stop (a worker finishes the task it runs).
CHILD_STOP: tuple[tuple[int, float], ...] = ((signal.SIGTERM, 20.0),)


def log(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


class AlreadyRunning(RuntimeError):
    pass


class Stack:
    """One instance of the embedded services ("run" or "test"), its lock, its state and its child processes."""

    def __init__(self, instance: str, *, durable: bool):
        self.instance = instance
        self.root = PROJECT_ROOT / "var" / instance
        self.durable = durable
        self.env: dict[str, str] = dict(os.environ)
        # devstack is the development stack: DEBUG unless the caller says otherwise (it also allows the dev secret).
        self.env.setdefault("DJANGO_DEBUG", "1")
        # Uploaded and generated product pictures (local files) live with the instance's other data.
        self.env.setdefault("MEDIA_ROOT", str(self.root / "media"))
        self.services: list[EmbeddedPostgres | EmbeddedRedis] = []
        self.children: dict[str, subprocess.Popen] = {}
        self.state: State | None = None
        self._lock_file = None

    # --- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        self.state = State.load(self.root / "state.json")
        leftovers = self.state.kill_leftovers()
        if leftovers:
            log(f"stopped leftovers of a crashed run: {', '.join(leftovers)}")
        try:
            self._start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _lock(self) -> None:
        self._lock_file = open(self.root / "devstack.lock", "a+")  # noqa: SIM115  (held for the stack's life)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "?"
            raise AlreadyRunning(
                f"another devstack '{self.instance}' is running (pid {holder}); stop it first (Ctrl-C in its terminal)"
            ) from error
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    def _start_services(self) -> None:
        database_url = self.env.get("DATABASE_URL")
        redis_url = self.env.get("REDIS_URL")
        graph_url = self.env.get("GRAPH_URL")
        if database_url:
            log(f"PostgreSQL: using DATABASE_URL ({_redact(database_url)})")
        else:
            postgres = EmbeddedPostgres(self.root, durable=self.durable)
            self.services.append(postgres)
            database_url = postgres.start()
            self.state.add("postgres", postgres.process, str(postgres.data))
            log(f"PostgreSQL: embedded server started at {database_url} (data in {postgres.data})")
        if redis_url and not graph_url and redis_has_graph_module(redis_url):
            graph_url = "falkordb://" + urlsplit(redis_url).netloc
        embedded_redis_url = None
        if not redis_url or not graph_url:
            embedded = EmbeddedRedis(self.root, durable=self.durable)
            self.services.append(embedded)
            embedded_redis_url = embedded.start()
            self.state.add("redis", embedded.process, str(embedded.data))
            log(f"redis-server + FalkorDB: embedded server started at {embedded_redis_url}")
        if redis_url:
            log(f"Redis: using REDIS_URL ({_redact(redis_url)})")
        else:
            redis_url = embedded_redis_url
        if graph_url:
            log(f"Graph: using {_redact(graph_url)}")
        else:
            graph_url = "falkordb://" + urlsplit(embedded_redis_url).netloc
            log(f"Graph: embedded FalkorDB at {graph_url}")
        self.env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, GRAPH_URL=graph_url)

    def stop(self) -> None:
        """Stop the children, then the services, each group at once so that grace times overlap. A second Ctrl-C
        while stopping is ignored: the steps are bounded anyway, and an interrupted stop would leave processes."""
        with _stop_signals_ignored():
            stop_processes([(process.pid, CHILD_STOP) for process in self.children.values() if process.poll() is None])
            self.children.clear()
            stop_processes([plan for service in reversed(self.services) if (plan := service.stop_plan())])
            self.services.clear()
            if self.state is not None:
                self.state.processes.clear()
                self.state.save()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    # --- child processes -------------------------------------------------------------------------------
    def manage(self, *args: str) -> None:
        """Run a management command to completion; a failure stops the stack. Interrupted (Ctrl-C reaches the whole
        process group, `kill -INT` only the supervisor), the command is stopped too, by MANAGE_STOP, before the
        exception goes on to stop the rest. The command stays in our process group, so a terminal's Ctrl-C reaches
        it directly, and it gets SIGTERM should the supervisor die."""
        command = [sys.executable, "manage.py", *args]
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, preexec_fn=die_with_parent)  # noqa: PLW1509
        try:
            returncode = process.wait()
        except BaseException:
            with _stop_signals_ignored():
                log(f"stopping manage.py {' '.join(args)} ...")
                stop_process(process.pid, steps=MANAGE_STOP)
            raise
        if returncode:
            raise subprocess.CalledProcessError(returncode, command)

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, start_new_session=True,
                                   preexec_fn=die_with_parent)  # noqa: PLW1509
        self.children[name] = process
        self.state.add(name, process, " ".join(command[1:3]))
        return process

    def watch(self) -> int:
        """Block until a signal arrives or a child exits; returns the exit code for the supervisor."""
        stop_requested = []

        def request_stop(signum, _frame):
            stop_requested.append(signum)

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop_requested:
            for name, process in self.children.items():
                if process.poll() is not None:
                    log(f"{name} exited with code {process.returncode}; stopping everything")
                    return 1
            time.sleep(0.5)
        log("stopping (signal received) ...")
        return 0


@contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM are ignored inside (a no-op outside the main thread, where handlers cannot be set)."""
    try:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
