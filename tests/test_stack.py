"""No process of a test run is left behind, however the run ends.

A pytest runs, in a process of its own, a test that starts the stack (Redis, the Celery
workers, uvicorn, the mail server, Chromium through Playwright) and then waits; once the stack is
up, that pytest is killed or interrupted, and every process it had started, children and
grandchildren, must be gone.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from learnsite.processes import die_with_parent

from .stack import ROOT, wait_until

STACK_UP = """
import os
import signal
from pathlib import Path


def test_stack_up(redis_url, workers, live_url, mail_server, browser):
    Path(os.environ["STACK_UP_FILE"]).write_text("up")
    signal.pause()  # until the run is ended from outside
"""


def descendants(pid: int) -> dict[int, str]:
    """Every live process under ``pid`` (children, their children...), with its command."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        commands[int(entry.name)] = command.replace(b"\0", b" ").decode(errors="replace")
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found[child] = commands.get(child, "")
        todo.extend(children.get(child, []))
    return found


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (whoever reaps it, if anyone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize(
    ("how", "options"),
    [
        (signal.SIGKILL, ["-n", "0"]),
        (signal.SIGKILL, ["-n", "1"]),
        (signal.SIGTERM, ["-n", "0"]),
        (signal.SIGINT, ["-n", "0"]),
    ],
    ids=["sigkill", "sigkill-xdist", "sigterm", "sigint"],
)
def test_no_process_outlives_an_ended_run(tmp_path, how, options):
    test_file = tmp_path / "test_stack_up.py"
    test_file.write_text(STACK_UP)
    # The suite's own fixtures (tests/conftest.py), for a test outside the suite's folder.
    (tmp_path / "conftest.py").write_text(
        "from tests.browser.conftest import *  # noqa: F403\n"
        "from tests.conftest import *  # noqa: F403\n"
    )
    up_file = tmp_path / "up"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"STACK_UP_FILE": str(up_file)}
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), *options, str(test_file)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
    )  # fmt: skip
    try:
        wait_until(lambda: up_file.exists() or run.poll() is not None, seconds=90)
        assert run.poll() is None, run.stdout.read().decode()
        started = descendants(run.pid)
        commands = " | ".join(started.values())
        # redis-server, the worker and its pool process, uvicorn, the mail server, Chromium.
        assert "redis-server" in commands and "uvicorn" in commands, commands
        assert "chromium" in commands and "mail_server" in commands, commands
        assert sum("celery" in command for command in started.values()) >= 2, commands

        run.send_signal(how)
        # SIGINT runs the fixtures' teardown first: each service gets up to 15 s to stop.
        wait_until(lambda: not any(alive(pid) for pid in [run.pid, *started]), seconds=90)
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
        run.stdout.close()
