"""A class pressing "Ping the worker" together: each learner has the ping lab open (its own
session and event stream) and presses the button once, at a moment spread over 5 s; the time
runs from the press to the run shown "Done" in that learner's own stream. The workers are the
Procfile's, as `make run` starts them; the web process is one uvicorn, as in `make run`.
Anchors in the same run: a lone learner's press -> "Done", and a bare Celery
apply_async().get() round trip on the same Redis.

Run with ``make bench`` (``.venv/bin/python bench/class_clicks.py``).
"""

import asyncio
import http.client
import http.cookies
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness import (
    PYTHON,
    ROOT,
    STEP_TIMEOUT_SECONDS,
    Child,
    free_port,
    http_answers,
    percentile,
    redis_start,
    site_env,
    site_web_argv,
    sse_frames,
    sse_open,
    writer_close,
)

from learnsite.redis import celery_broker_url

CLASS_SIZES = (1, 200)
SPREAD_SECONDS = 5.0
DONE_TIMEOUT_SECONDS = 300.0
ROUND_TRIPS = 50
GOAL_RATIO = 2.0


@dataclass
class Learner:
    cookie: str
    csrf: str
    clicked: float = 0.0
    done: float = 0.0
    refused: str = ""


def learner_open(port: int) -> Learner:
    """GET the ping lab, as a browser opening it would: its session and CSRF cookies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP_TIMEOUT_SECONDS)
    try:
        conn.request("GET", "/labs/ping/")
        response = conn.getresponse()
        response.read()
        cookies = http.cookies.SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
    finally:
        conn.close()
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    return Learner(cookie=cookie, csrf=cookies["csrftoken"].value)


def click(port: int, learner: Learner) -> str:
    """Press "Ping the worker" (htmx POST): the run id the page names, or "" if refused."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP_TIMEOUT_SECONDS)
    try:
        conn.request(
            "POST",
            "/labs/ping/start/",
            body="",
            headers={
                "Cookie": learner.cookie,
                "X-CSRFToken": learner.csrf,
                "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    found = re.search(r"Run (\w+) is on the queue", text)
    if response.status != 200 or not found:
        learner.refused = f"{response.status}: {re.sub(r'<[^>]+>', ' ', text)[:120]}"
        return ""
    return found.group(1)


async def learner_run(port: int, learner: Learner, at: float) -> None:
    reader, writer, chunked = await sse_open(port, "/streams/labs/ping/events/", learner.cookie)
    try:
        frames = sse_frames(reader, chunked)
        await anext(frames)  # the stream is open: the page is ready for the press
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        learner.clicked = time.perf_counter()
        run = await asyncio.to_thread(click, port, learner)
        if not run:
            return
        async with asyncio.timeout(DONE_TIMEOUT_SECONDS):
            async for event, _, data, received in frames:
                if event == "runs" and f"run-{run}-title" in data and ">Done<" in data:
                    learner.done = received
                    return
    except TimeoutError:
        pass  # counted as lost
    finally:
        await writer_close(writer)


@dataclass(frozen=True)
class Row:
    learners: int
    p50: float
    p95: float
    worst: float
    refused: int
    lost: int


async def class_run(port: int, learners: list[Learner]) -> Row:
    start = time.perf_counter() + 1.0
    await asyncio.gather(
        *(learner_run(port, learner, start + random.uniform(0, SPREAD_SECONDS))
          for learner in learners)
    )  # fmt: skip
    seconds = [ln.done - ln.clicked for ln in learners if ln.done]
    refused = sum(1 for ln in learners if ln.refused)
    return Row(
        learners=len(learners),
        p50=percentile(seconds, 50),
        p95=percentile(seconds, 95),
        worst=max(seconds, default=float("nan")),
        refused=refused,
        lost=len(learners) - len(seconds) - refused,
    )


def procfile_workers(env: dict, var_dir: Path) -> list[Child]:
    """The worker entries of the Procfile, started as honcho would start them."""
    children = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.startswith("worker"):
            children.append(Child(name, ["sh", "-c", command.strip()], env, var_dir))
    return children


BARE_CELERY = """
import os, time
from celery import Celery
app = Celery("bare", broker=os.environ["BARE_URL"], backend=os.environ["BARE_URL"])
app.conf.task_default_queue = "bare"  # not the site's queues, on the same Redis
@app.task
def ping():
    return "pong"
if __name__ == "__main__":
    ping.apply_async().get(timeout=60)  # the first, with connections still to open
    took = []
    for _ in range({count}):
        started = time.perf_counter()
        ping.apply_async().get(timeout=60)
        took.append(time.perf_counter() - started)
    took.sort()
    print(took[len(took) // 2], took[int(len(took) * 0.95)])
"""


def bare_celery_round_trip(env: dict, var_dir: Path, broker_url: str) -> tuple[float, float]:
    """p50 and p95 of apply_async().get() for a task that does nothing, on its own worker."""
    folder = var_dir / "bare"
    folder.mkdir()
    (folder / "bare.py").write_text(BARE_CELERY.format(count=ROUND_TRIPS))
    # Not a Django program: without DJANGO_SETTINGS_MODULE, Celery does not set Django up.
    bare_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
    bare_env["BARE_URL"] = broker_url
    worker = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "bare", "worker", "-c", "1", "-l", "warning",
         "--without-mingle", "--without-gossip"],
        cwd=folder, env=bare_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        done = subprocess.run([PYTHON, "bare.py"], cwd=folder, env=bare_env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"the bare Celery round trip failed:\n{done.stderr[-2000:]}")
        out = done.stdout
        p50, p95 = map(float, out.split())
        return p50, p95
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def print_table(rows: list[Row], bare: tuple[float, float]) -> None:
    lone = rows[0]
    header = (
        f"{'learners':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'refused':>8} {'lost':>5} "
        f"{'p95 x lone':>11}"
    )
    print()
    print(f'A class presses "Ping the worker" within {SPREAD_SECONDS:.0f} s: press -> "Done"')
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.learners:>8} {row.p50:>7.2f} {row.p95:>7.2f} {row.worst:>7.2f} "
            f"{row.refused:>8} {row.lost:>5} {row.p95 / lone.p95:>10.2f}x"
        )
    print(
        f"""
Anchor, same run: a bare Celery apply_async().get() round trip (a task that does nothing, one
worker process, the same Redis): p50 {bare[0] * 1000:.1f} ms, p95 {bare[1] * 1000:.1f} ms.
A ping run itself takes about 2 s (five steps of 0.4 s). "p95 x lone" is over the lone
learner's row of this run. Goal: a class of 200 with 0 refused, 0 lost and p95 <=
{GOAL_RATIO:.0f}x the lone learner's."""
    )


def main() -> int:
    var_dir = Path(tempfile.mkdtemp(prefix="lsbench-class-"))
    # The Procfile's commands find celery and python in the virtualenv, as under `make run`.
    env = site_env(var_dir, PATH=f"{Path(PYTHON).parent}:{os.environ['PATH']}")
    children: list[Child] = []
    try:
        children.append(redis_start(env, var_dir))
        subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT,
                       env=env, check=True, timeout=300)  # fmt: skip
        children += procfile_workers(env, var_dir)
        port = free_port()
        web = Child("web", site_web_argv(port), env, var_dir)
        children.append(web)
        web.wait_ready(lambda: http_answers(port))
        bare = bare_celery_round_trip(env, var_dir, celery_broker_url(env["REDIS_URL"]))
        print("bench: bare Celery round trip done", flush=True)
        rows = []
        for size in CLASS_SIZES:
            with ThreadPoolExecutor(8) as pool:
                learners = list(pool.map(lambda _: learner_open(port), range(size)))
            rows.append(asyncio.run(class_run(port, learners)))
            print(f"bench: a class of {size} done", flush=True)
        print_table(rows, bare)
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
