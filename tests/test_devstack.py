"""devstack: existing servers win, one supervisor per instance, leftovers of a crashed run are stopped."""
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from devstack.services import State
from devstack.stack import PROJECT_ROOT, AlreadyRunning, Stack


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
