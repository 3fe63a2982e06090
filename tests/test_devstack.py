"""devstack: existing servers win, one supervisor per instance, leftovers of a crashed run are stopped, Ctrl-C
during the demo load stops everything within 10 s."""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
from django.conf import settings

from devstack.services import State, free_port
from devstack.stack import PROJECT_ROOT, AlreadyRunning, Stack
from mall.demo import CSV_RELATIVE_PATH
from mall.management.commands.load_demo import default_data_dir

INTERRUPT_INSTANCE = "pytest-interrupt"


def test_configured_servers_win_and_nothing_is_started(tmp_path):
    # The services this test session runs on are "existing servers" for a nested devstack.
    env = {**os.environ, "DEVSTACK_INSTANCE": "pytest-nested", "DATABASE_URL": os.environ["DATABASE_URL"],
           "REDIS_URL": os.environ["REDIS_URL"], "GRAPH_URL": settings.GRAPH_URL}
    probe = "import os; print('SEEN', os.environ['DATABASE_URL'], os.environ['REDIS_URL'], os.environ['GRAPH_URL'])"
    result = subprocess.run([sys.executable, "-m", "devstack", "exec", "--", sys.executable, "-c", probe],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "embedded server started" not in result.stdout
    assert f"SEEN {env['DATABASE_URL']} {env['REDIS_URL']} {env['GRAPH_URL']}" in result.stdout


def test_a_redis_with_the_graph_module_also_serves_as_the_graph():
    # The FalkorDB server this session runs on is a Redis with the graph module loaded.
    host_port = settings.GRAPH_URL.split("//")[1]
    env = {k: v for k, v in os.environ.items() if k != "GRAPH_URL"}
    env.update(DEVSTACK_INSTANCE="pytest-nested", REDIS_URL=f"redis://{host_port}/3")
    probe = "import os; print('GRAPH', os.environ['GRAPH_URL'])"
    result = subprocess.run([sys.executable, "-m", "devstack", "exec", "--", sys.executable, "-c", probe],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "redis-server + FalkorDB: embedded" not in result.stdout
    assert f"GRAPH falkordb://{host_port}" in result.stdout


def test_a_second_supervisor_of_the_same_instance_is_refused():
    first = Stack("pytest-lock", durable=False)
    first.root.mkdir(parents=True, exist_ok=True)
    first._lock()
    try:
        second = Stack("pytest-lock", durable=False)
        with pytest.raises(AlreadyRunning, match=str(os.getpid())):
            second._lock()
    finally:
        first.stop()
    third = Stack("pytest-lock", durable=False)
    third._lock()  # released with the first: a new run may start
    third.stop()


def test_leftovers_of_a_crashed_run_are_stopped_but_strangers_are_not(tmp_path):
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "devstack-leftover-marker"])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state = State(tmp_path / "state.json")
        state.add("worker", leftover, "devstack-leftover-marker")
        # a recorded pid now used by an unrelated process (pid reuse) must not be killed
        state.processes["web"] = {"pid": stranger.pid, "marker": "gunicorn config.wsgi"}
        state.save()
        stopped = State.load(tmp_path / "state.json").kill_leftovers()
        assert stopped == ["worker"]
        leftover.wait(5)
        time.sleep(0.2)
        assert stranger.poll() is None
        assert State.load(tmp_path / "state.json").processes == {}
    finally:
        for process in (leftover, stranger):
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def interrupt_instance():
    """A `devstack run` instance of its own, empty at first: the demo load has everything to do. The second test
    finds the catalogue its predecessor committed and is interrupted in the orders phase all the same."""
    root = PROJECT_ROOT / "var" / INTERRUPT_INSTANCE
    shutil.rmtree(root, ignore_errors=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _alive(processes: list[psutil.Process], root) -> list[str]:
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {' '.join(process.cmdline())[:100]}")
        except psutil.NoSuchProcess:
            pass
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
        except psutil.NoSuchProcess:
            continue
        if str(root) in cmdline and not any(entry.startswith(f"{process.info['pid']} ") for entry in left):
            left.append(f"{process.info['pid']} {cmdline[:100]}")
    return left


@pytest.mark.slow
@pytest.mark.skipif(not (default_data_dir() / CSV_RELATIVE_PATH).exists(), reason="the demo data is not there")
@pytest.mark.parametrize("target", ["supervisor", "process group"])
def test_ctrl_c_during_the_demo_load_stops_everything_within_10_seconds(interrupt_instance, target):
    # A terminal's Ctrl-C reaches the whole process group; `kill -INT <pid>` only the supervisor.
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "REDIS_URL", "GRAPH_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DEVSTACK_INSTANCE=INTERRUPT_INSTANCE, WEB_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    supervisor = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=PROJECT_ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    output: list[str] = []
    in_orders_phase = threading.Event()

    def read_output() -> None:
        for raw in supervisor.stdout:
            text = raw.decode("utf-8", "replace")
            output.append(text)
            if "订单 orders" in text:  # the orders phase's progress bar: its COPY runs
                in_orders_phase.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    processes: list[psutil.Process] = []
    try:
        assert in_orders_phase.wait(120), "".join(output)[-3000:]
        time.sleep(1)
        processes = [psutil.Process(supervisor.pid), *psutil.Process(supervisor.pid).children(recursive=True)]
        assert any("load_demo" in " ".join(process.cmdline()) for process in processes)
        signalled = time.monotonic()
        if target == "supervisor":
            supervisor.send_signal(signal.SIGINT)
        else:
            os.killpg(supervisor.pid, signal.SIGINT)
        while _alive(processes, interrupt_instance) and time.monotonic() - signalled < 10:
            time.sleep(0.1)
        elapsed = time.monotonic() - signalled
        assert not _alive(processes, interrupt_instance), f"left after {elapsed:.1f} s"
        assert supervisor.wait(1) == 130
        reader.join(5)
        assert "interrupted" in "".join(output)
    finally:
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        supervisor.wait(10)
