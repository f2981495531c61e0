"""Pages under load: a lesson page, the home page and a static file as the production profile
serves them, against a hello-world Django view under gunicorn (sync, 2 workers) and under
uvicorn (1 worker), all loaded the same way in the same run: wrk, 2 threads, 32 connections,
10 s. Prints each figure with its anchor and the ratio, and the CPU each request cost the server
(its processes' CPU time over the requests served), which a busy machine disturbs far less than
requests a second.

Run with ``make bench`` (``.venv/bin/python bench/pages.py``).
"""

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from anchors import anchors_python
from harness import (
    PYTHON,
    ROOT,
    Child,
    free_port,
    http_answers,
    proc_tree_cpu_seconds,
    redis_start,
    site_env,
    site_web_argv,
)

from learnsite.serve_web import web_workers

CONNECTIONS = 32
SECONDS = 10
LESSON = "/lessons/offloading-slow-work/"
COURSE = "/courses/redis-broker/"


@dataclass(frozen=True)
class Load:
    what: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # the server's CPU per request


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(what: str, url: str, server: Child) -> Load:
    """wrk's figures for ``url``: requests a second and latency percentiles; and the CPU
    ``server`` (its process and their children) spent per request. A second of the same load
    first, unmeasured: each worker process renders the page once per content version, and the
    steady state is what is compared."""
    subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d1s", url], capture_output=True,
                   check=True, timeout=30)  # fmt: skip
    cpu_before = proc_tree_cpu_seconds(server.pid)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url],
        capture_output=True, text=True, check=True, timeout=SECONDS + 30,
    ).stdout  # fmt: skip
    cpu_seconds = proc_tree_cpu_seconds(server.pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    broken = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, broken.groups())) if broken else 0)
    return Load(what, rate, p50, p99, errors, 1000 * cpu_seconds / max(requests, 1))


def served(name: str, argv: list[str], env: dict, log_dir: Path, port: int) -> Child:
    child = Child(name, argv, env, log_dir)
    child.wait_ready(lambda: http_answers(port))
    return child


def print_table(loads: list[Load], anchor: Load) -> None:
    header = (f"{'what':<44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'x anchor':>9} {'CPU ms/req':>11}")  # fmt: skip
    print()
    print(f"Pages under load: wrk, 2 threads, {CONNECTIONS} connections, {SECONDS} s each")
    print(header)
    print("-" * len(header))
    for load in loads:
        ratio = load.requests_per_second / anchor.requests_per_second
        print(
            f"{load.what:<44} {load.requests_per_second:>8.0f} {load.p50_ms:>8.1f} "
            f"{load.p99_ms:>8.1f} {load.errors:>7} {ratio:>8.2f}x {load.cpu_ms:>11.3f}"
        )
    print(
        f"""
"x anchor" is req/s over the first row's ({anchor.what}), measured minutes apart on the same
machine. Goals: a lesson page at >= 0.5x (stretch 0.8x) with p99 <= 50 ms; static files at
>= 3,000 req/s. wrk runs on the same cores as the servers. "CPU ms/req" is the server's own
CPU per request (all its processes): on 2 cores shared with wrk, about 2,000 / (it + wrk's
share) requests a second, whatever else the machine runs."""
    )


def main() -> int:
    var_dir = Path(tempfile.mkdtemp(prefix="lsbench-pages-"))
    # The static files as `make serve` serves them: collected, hashed names, gzip copies.
    env = site_env(var_dir, LEARNSITE_STATIC_COLLECTED="1")
    children: list[Child] = []
    try:
        anchors = anchors_python()
        children.append(redis_start(env, var_dir))
        for command in (
            ["migrate", "--no-input"],
            ["content_load"],
            ["collectstatic", "--no-input"],
        ):
            subprocess.run([PYTHON, "manage.py", *command, "-v", "0"], cwd=ROOT, env=env,
                           check=True, timeout=300)  # fmt: skip

        hello_dir = str(ROOT / "bench")
        loads: list[Load] = []
        port = free_port()
        gunicorn = served("hello-gunicorn", [
            str(anchors), "-m", "gunicorn", "--chdir", hello_dir, "-w", "2", "-b",
            f"127.0.0.1:{port}", "hello:application",
        ], env, var_dir, port)  # fmt: skip
        children.append(gunicorn)
        anchor = wrk("hello-world view, gunicorn sync, 2 workers", f"http://127.0.0.1:{port}/",
                     gunicorn)  # fmt: skip
        loads.append(anchor)
        gunicorn.stop()

        port = free_port()
        uvicorn = served("hello-uvicorn", [
            str(anchors), "-m", "uvicorn", "--app-dir", hello_dir, "--port", str(port),
            "--no-access-log", "--log-level", "warning", "hello:asgi_application",
        ], env, var_dir, port)  # fmt: skip
        children.append(uvicorn)
        loads.append(
            wrk("hello-world view, uvicorn, 1 worker", f"http://127.0.0.1:{port}/", uvicorn)
        )
        uvicorn.stop()

        port = free_port()
        site = served("site", site_web_argv(port, web_workers()), env, var_dir, port)
        children.append(site)
        base = f"http://127.0.0.1:{port}"
        loads.append(
            wrk(f"this site: a lesson page ({web_workers()} workers)", base + LESSON, site)
        )
        loads.append(wrk("this site: the home page", base + "/", site))
        loads.append(wrk("this site: a course page", base + COURSE, site))
        loads.append(wrk("this site: a static file", base + static_url(env), site))
        print_table(loads, anchor)
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


def static_url(env: dict) -> str:
    """The URL of the site's stylesheet as its pages link it (hashed, in production)."""
    page = subprocess.run(
        [PYTHON, "-c", "import django; django.setup(); from django.templatetags.static import "
         "static; print(static('css/site.css'))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return page.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
