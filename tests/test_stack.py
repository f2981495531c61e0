"""No process of a test run is left behind, however the run ends.

A pytest runs, in a process of its own, a test that starts the stack (Redis, the Celery
workers, uvicorn, the mail server, Chromium through Playwright) and then waits; once the stack is
up, that pytest is killed or interrupted, and every process it had started, children and
grandchildren, must be gone.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.datastructures import CaseInsensitiveMapping

from learnsite.processes import die_with_parent

from .authoring.factory import make_course, make_lesson
from .stack import ROOT, free_port, wait_until

# What the test run puts in the environment, which a `make serve` of a user would not have.
SET_BY_TESTS = ("PYTEST_", "DJANGO_", "LEARNSITE_", "DATABASE_URL", "REDIS_URL")

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


# Killed (no teardown runs: the kernel ends each process with its parent, and the xdist
# worker in between is one more generation) and interrupted (the fixtures' teardown runs). A
# SIGTERM ends pytest as a SIGKILL does, and a kill without xdist has one generation fewer:
# each would start the whole stack again to prove nothing more.
@pytest.mark.parametrize(
    ("how", "options"),
    [(signal.SIGKILL, ["-n", "1"]), (signal.SIGINT, ["-n", "0"])],
    ids=["sigkill-xdist", "sigint"],
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
        pids = [run.pid, *started]
        try:
            wait_until(lambda: not any(alive(pid) for pid in pids), seconds=90)
        except AssertionError:  # name the processes that did not stop
            survivors = [started.get(pid, "the pytest run") for pid in pids if alive(pid)]
            raise AssertionError(f"still running 90 s after {how.name}: {survivors}") from None
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
        run.stdout.close()


def http_get(url: str, **headers: str) -> tuple[int, CaseInsensitiveMapping, bytes]:
    """One GET that does not follow redirects: status, headers (any case), body."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=5) as response:
            return response.status, CaseInsensitiveMapping(dict(response.headers)), response.read()
    except urllib.error.HTTPError as error:
        return error.code, CaseInsensitiveMapping(dict(error.headers)), error.read()


def test_make_serve_serves_the_production_profile_and_ctrl_c_stops_all_of_it():
    """`make serve` as it is run on a machine, with its own var dir and no environment set
    but the ports: PostgreSQL and Redis started by it, DEBUG off, HTTPS hardening on behind a
    proxy, collected static files. Ctrl-C (SIGINT to its process group) ends every process."""
    var_dir = Path(tempfile.mkdtemp(prefix="serve-", dir=settings.VAR_DIR))
    var_dir.chmod(0o755)  # the embedded PostgreSQL runs as the postgres user when we are root
    # One small lesson: loading the whole course would be most of this test's time.
    make_lesson(make_course(var_dir / "content" / "course"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SET_BY_TESTS)}
    env |= {"LEARNSITE_VAR_DIR": str(var_dir), "LEARNSITE_CONTENT_DIR": str(var_dir / "content"),
            "WEB_PORT": str(port), "LEARNSITE_MAIL_PORT": str(free_port())}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    log_path = var_dir / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            ["make", "--no-print-directory", "serve"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip

    def ready() -> bool:
        try:
            return http_get(f"{base}/healthz/ready")[0] == 200
        except OSError:
            return serve.poll() is not None

    try:
        # Where the site is, printed once it answers: opened at once, it is there.
        banner = f"learnsite (production profile): {base}/"
        wait_until(lambda: banner in log_path.read_text() or serve.poll() is not None, seconds=120)
        assert serve.poll() is None, log_path.read_text()
        assert http_get(f"{base}/healthz/live")[0] == 200
        wait_until(ready, seconds=120)
        assert serve.poll() is None, log_path.read_text()
        status, _, body = http_get(f"{base}/healthz")
        health = json.loads(body)
        assert status == 200 and health["database"]["vendor"] == "postgresql", health
        # Plain HTTP is sent to HTTPS; through a TLS proxy (X-Forwarded-Proto, trusted from
        # 127.0.0.1 by uvicorn) the page is served, with hashed and compressed static files.
        status, headers, _ = http_get(f"{base}/")
        assert status == 301 and headers["Location"].startswith("https://"), headers
        status, headers, body = http_get(f"{base}/", **{"X-Forwarded-Proto": "https"})
        assert status == 200 and "Strict-Transport-Security" in headers, headers
        css = re.search(rb'href="(/static/css/site\.[0-9a-f]{12}\.css)"', body).group(1)
        status, headers, _ = http_get(
            base + css.decode(), **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}
        )
        assert status == 200 and headers["Content-Encoding"] == "gzip", headers
        assert "immutable" in headers["Cache-Control"], headers
        # The access log, in what make serve prints.
        wait_until(lambda: f'"GET {css.decode()} HTTP/1.1" 200' in log_path.read_text())

        started = descendants(serve.pid)
        commands = " | ".join(started.values())
        assert "redis-server" in commands and (var_dir / "redis/appendonly.aof").exists()
        assert "postgres -D" in commands and "celery" in commands, commands
        # uvicorn and its workers (one per core, so at least 1), started by multiprocessing.
        assert "uvicorn" in commands and "spawn_main" in commands, commands

        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        wait_until(lambda: not any(alive(pid) for pid in [serve.pid, *started]), seconds=60)
    finally:
        # After a failure: honcho's children are in sessions of their own and outlive a killed
        # make, so it is stopped as Ctrl-C does, then whatever is left is killed.
        left = descendants(serve.pid)
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        serve.wait()
