"""Live event streams under load: this site's lab streams against django-eventstream's.

Starts its own redis-server (unix socket) and one uvicorn web process in a fresh temp folder,
opens one server-sent-event stream per learner to /streams/labs/ping/events/, publishes lab
events through the site's own ``labs.events.event_publish`` (the record, the frame rendered
once, the announcement) from PUBLISHERS processes of their own, as workers would, and times
each event from publish to the ``event: runs`` frame that carries its stream id. Then the same
shape through django-eventstream 5.3.4 (bench/eventstream_site.py, in the anchors' virtualenv).
Prints one row per server and number of open streams: latency, web CPU per delivered event
and its ratio to the anchor's in the same run, memory per stream, threads, Redis connections.

Run with ``make bench`` (``.venv/bin/python bench/run.py``). While iterating, ``--counts 1000``
runs only those numbers of learners (the anchor's too, where it has them).
"""

import argparse
import asyncio
import contextlib
import http.client
import http.cookies
import itertools
import json
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from anchors import anchors_python
from harness import (
    PYTHON,
    ROOT,
    STEP_TIMEOUT_SECONDS,
    Child,
    free_port,
    http_answers,
    percentile,
    proc_cpu_seconds,
    proc_status,
    redis_start,
    site_env,
    site_web_argv,
    sse_frames,
    sse_open,
    writer_close,
)

SITE = "this site"
SITE_PATH = "/streams/labs/ping/events/"
ANCHOR = "django-eventstream"
ANCHOR_VERSION = "django-eventstream 5.3.4"
LEARNER_COUNTS = (1, 200, 1000)
# The anchor, django-eventstream, at the same shape: the lone learner and the largest class.
ANCHOR_COUNTS = (1, 1000)
# K, events per learner: at least EVENTS_PER_LEARNER, and enough for MIN_SAMPLES per row, so
# that the N=1 baseline's p99 is not just the slowest of a handful.
EVENTS_PER_LEARNER = 10
MIN_SAMPLES = 100
WARMUP_EVENTS = 5
# Processes that publish the events, each learner's from one of them: a class's events are
# recorded by several workers, and the site renders each event's frame where it is recorded.
PUBLISHERS = 2
# The first event is published this long after the publishers are handed their shares.
PUBLISH_START_SECONDS = 0.2
# Each learner gets one event per round; a round's events are spread evenly over the round,
# so every learner sees the same event rate (4 per second, a little faster than a ping run's
# steps) whatever N is, and the web process's total load grows with N.
ROUND_SECONDS = 0.25
DELIVERY_TIMEOUT_SECONDS = 10.0
TOTAL_BUDGET_SECONDS = 600.0
CONNECT_CONCURRENCY = 50
SESSION_THREADS = 8
BENCH_CLIENT_NAME = "bench"


class BudgetExceeded(RuntimeError):
    pass


_started_at = time.monotonic()


def budget_check(what: str) -> None:
    if time.monotonic() - _started_at > TOTAL_BUDGET_SECONDS:
        raise BudgetExceeded(f"over the {TOTAL_BUDGET_SECONDS:.0f}s budget while {what}")


# ---------------------------------------------------------------------------------------------
# Processes


# ---------------------------------------------------------------------------------------------
# Learners: a session each, made by the site itself


def learner_session(port: int) -> str:
    """GET the lab page, as a browser opening it would: returns the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP_TIMEOUT_SECONDS)
    try:
        conn.request("GET", "/labs/ping/")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET /labs/ping/ answered {response.status}")
        cookies = http.cookies.SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
    finally:
        conn.close()
    from django.conf import settings

    return cookies[settings.SESSION_COOKIE_NAME].value


def cookie_header(session_key: str) -> str:
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={session_key}"


def learner_id_of(session_key: str) -> str:
    """The learner id the site stored in the session, read back from the database."""
    from importlib import import_module

    from django.conf import settings

    from learners.identity import SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    learner_id = store.get(SESSION_KEY)
    if not learner_id:
        raise RuntimeError(f"session {session_key[:6]}… holds no learner id")
    return learner_id


# ---------------------------------------------------------------------------------------------
# Streams: one raw HTTP/1.1 connection per learner, SSE parsed by hand


def stream_id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class Stream:
    path: str
    cookie: str
    learner_id: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # (stream id, perf_counter) of every "runs" frame, in arrival order.
    runs_frames: list[tuple[tuple[int, int], float]] = field(default_factory=list)
    frames: int = 0
    paused: int = 0  # "broker" frames saying live updates are paused (a Redis error)
    error: str = ""


async def stream_read(stream: Stream, port: int, opened: asyncio.Semaphore) -> None:
    writer = None
    try:
        async with opened:
            reader, writer, chunked = await sse_open(port, stream.path, stream.cookie)
        async for event, event_id, data, received in sse_frames(reader, chunked):
            stream.frames += 1
            stream.ready.set()  # the first frame comes after the hub registered the stream
            if event == "broker" and "not answering" in data:
                stream.paused += 1
            # The site's frames carry the event's stream id; the anchor's, in the data.
            key = event_id or data.strip().strip('"')
            if event == "runs" and key:
                stream.runs_frames.append((stream_id_key(key), received))
    except asyncio.CancelledError:
        raise
    except Exception as error:  # reported under the table; the run goes on
        stream.error = f"{type(error).__name__}: {error}"
        stream.ready.set()
    finally:
        if writer is not None:
            await writer_close(writer)


# ---------------------------------------------------------------------------------------------
# Publishing: from processes of their own, as a class's workers record their events


@dataclass
class Published:
    stream: int
    key: tuple[int, int]
    at: float


def events_per_learner(learners: int) -> int:
    return max(EVENTS_PER_LEARNER, math.ceil(MIN_SAMPLES / learners))


def site_publish(learner_id: str, sent: int) -> str:
    """The learner's event number ``sent`` of back-to-back ping runs, as the lab records them
    (queued by the page, then the worker's started, five steps and succeeded): its stream id."""
    from labs.events import event_publish
    from labs.kinds.ping.fold import PING_STEPS

    run, place = divmod(sent, PING_STEPS + 3)
    event = {"run": f"run{run}", "lab": "ping"}
    if place == 0:
        event["kind"] = "queued"
    elif place == 1:
        event |= {"kind": "started", "worker": "bench@localhost"}
    elif place <= PING_STEPS + 1:
        step = place - 1
        event |= {"kind": "progress", "step": step, "of": PING_STEPS,
                  "percent": round(step * 100 / PING_STEPS)}  # fmt: skip
    else:
        result = {"worker": "bench@localhost", "pid": 0, "worked_ms": 2000}
        event |= {"kind": "succeeded", "result": result}
    return event_publish(learner_id=learner_id, lab="ping", event=event)


def anchor_publish(learner_id: str, sent: int) -> str:
    """One event on the learner's channel, as django-eventstream's send_event() publishes it for
    several processes (one PUBLISH on its Redis channel); its number for the learner is its
    data."""
    from learnsite.redis import redis_client

    key = f"{sent + 1}-0"
    message = {
        "channel": f"learner-{learner_id}",
        "event_type": "runs",
        "data": json.dumps(key),
        "pub_id": None,
    }
    redis_client().publish("events_channel", json.dumps(message))
    return key


PUBLISHES = {"site": site_publish, "anchor": anchor_publish}


def publisher_start(env: dict) -> None:
    """A publishing process: the site's settings and Redis, its connections named so that
    CLIENT LIST leaves them out."""
    os.environ.update(env)
    import django

    django.setup()
    from learnsite.redis import redis_client

    redis_client().connection_pool.connection_kwargs["client_name"] = f"{BENCH_CLIENT_NAME}-pub"


def publish_share(publish: str, learners: list[tuple[int, str]], count: int, rounds: int,
                  start: float) -> list[Published]:  # fmt: skip
    """This process's share of K rounds: in each, one event per learner of ``learners`` (index,
    learner id), each at its place in the round of all ``count`` learners (paced evenly)."""
    published: list[Published] = []
    gap = ROUND_SECONDS / count
    for round_ in range(rounds):
        for index, learner_id in learners:
            delay = start + (round_ * count + index) * gap - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            at = time.perf_counter()  # CLOCK_MONOTONIC: the reading process's clock too
            key = PUBLISHES[publish](learner_id, round_)
            published.append(Published(index, stream_id_key(key), at))
    return published


async def publish_all(streams: list[Stream], rounds: int, publish: str,
                      publishers: ProcessPoolExecutor) -> list[Published]:  # fmt: skip
    """K rounds over PUBLISHERS processes, each learner's events from one of them."""
    loop = asyncio.get_running_loop()
    learners = [(index, stream.learner_id) for index, stream in enumerate(streams)]
    start = time.perf_counter() + PUBLISH_START_SECONDS
    shares = [
        loop.run_in_executor(
            publishers, publish_share, publish, learners[n::PUBLISHERS], len(streams), rounds, start
        )
        for n in range(PUBLISHERS)
    ]
    return sorted(
        itertools.chain.from_iterable(await asyncio.gather(*shares)), key=lambda item: item.at
    )


def latencies_ms(streams: list[Stream], published: list[Published]) -> list[float]:
    """Per delivered event: publish → first "runs" frame on its stream whose id covers it."""
    result = []
    for item in published:
        for key, received in streams[item.stream].runs_frames:
            if key >= item.key:
                result.append((received - item.at) * 1000)
                break
    return result


def delivered_count(streams: list[Stream], published: list[Published]) -> int:
    return sum(
        1
        for item in published
        if streams[item.stream].runs_frames and streams[item.stream].runs_frames[-1][0] >= item.key
    )


# ---------------------------------------------------------------------------------------------
# One row: N learners


@dataclass
class Row:
    server: str
    learners: int
    open_streams: int
    redis_web: int
    redis_web_pubsub: int
    threads: int
    rss_mb: float
    published: int
    delivered: int
    p50: float
    p99: float
    web_cpu_s: float
    rss_kb_per_stream: float
    paused: int
    errors: list[str]

    @property
    def cpu_us_per_event(self) -> float:
        return self.web_cpu_s / self.delivered * 1e6 if self.delivered else math.nan


def redis_web_connections(monitor) -> tuple[int, int]:
    """Redis clients other than this script's own: (all, subscribed)."""
    clients = [c for c in monitor.client_list() if not c.get("name", "").startswith("bench")]
    subscribed = sum(1 for c in clients if int(c.get("psub", 0)) or int(c.get("sub", 0)))
    return len(clients), subscribed


async def measure(server: str, streams: list[Stream], port: int, web_pid: int, monitor,
                  rounds: int, publish: str, publishers: ProcessPoolExecutor) -> Row:  # fmt: skip
    idle_rss_mb = proc_status(web_pid)[1]
    opened = asyncio.Semaphore(CONNECT_CONCURRENCY)
    tasks = [asyncio.create_task(stream_read(s, port, opened)) for s in streams]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(s.ready.wait() for s in streams)), STEP_TIMEOUT_SECONDS
        )
        await asyncio.sleep(0.5)  # let the hub's subscription settle before timing anything
        print(f"bench: {server} N={len(streams)}: streams open, publishing", flush=True)
        cpu_before = proc_cpu_seconds(web_pid)
        published = await asyncio.wait_for(
            publish_all(streams, rounds, publish, publishers),
            rounds * ROUND_SECONDS + STEP_TIMEOUT_SECONDS,
        )
        deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
        while delivered_count(streams, published) < len(published):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        web_cpu_s = proc_cpu_seconds(web_pid) - cpu_before
        open_streams = sum(1 for s, t in zip(streams, tasks, strict=True) if not t.done())
        threads, rss_mb = proc_status(web_pid)
        redis_web, redis_web_pubsub = await asyncio.to_thread(redis_web_connections, monitor)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    values = latencies_ms(streams, published)
    return Row(
        server=server,
        learners=len(streams),
        open_streams=open_streams,
        redis_web=redis_web,
        redis_web_pubsub=redis_web_pubsub,
        threads=threads,
        rss_mb=rss_mb,
        published=len(published),
        delivered=len(values),
        p50=percentile(values, 50),
        p99=percentile(values, 99),
        web_cpu_s=web_cpu_s,
        rss_kb_per_stream=(rss_mb - idle_rss_mb) * 1024 / max(open_streams, 1),
        paused=sum(s.paused for s in streams),
        errors=sorted({s.error for s in streams if s.error}),
    )


# ---------------------------------------------------------------------------------------------


GOALS = (
    "Goals at N=1000 for this site: 100% delivered within 10 s, p99 <= 100 ms, web CPU per "
    "event <= 0.5x django-eventstream's, <= 40 KB RSS per stream, <= 10 threads, <= 15 Redis "
    "connections, 0 false 'paused' frames."
)


def print_table(rows: list[Row]) -> None:
    anchor = {row.learners: row for row in rows if row.server == ANCHOR}
    header = (
        f"{'server':<19} {'N':>5} {'delivered':>11} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU us/ev':>9} {'x anchor':>8} {'KB/stream':>9} {'threads':>7} {'redis':>5} "
        f"{'paused':>6}"
    )
    print()
    print(f"Live event streams on one uvicorn process, {ROUND_SECONDS}s between a learner's events")
    print(header)
    print("-" * len(header))
    for row in rows:
        same = anchor.get(row.learners)
        ratio = row.cpu_us_per_event / same.cpu_us_per_event if same else math.nan
        print(
            f"{row.server:<19} {row.learners:>5} {f'{row.delivered}/{row.published}':>11} "
            f"{row.p50:>7.1f} {row.p99:>7.1f} {row.cpu_us_per_event:>9.0f} {ratio:>7.2f}x "
            f"{row.rss_kb_per_stream:>9.1f} {row.threads:>7} {row.redis_web:>5} {row.paused:>6}"
            + (f"  errors: {'; '.join(row.errors)}" if row.errors else "")
        )
    k_by_n = ", ".join(f"{n}: {events_per_learner(n)}" for n in sorted({r.learners for r in rows}))
    print(
        f"""
Each learner has one open stream and gets K events (K by N: {k_by_n}), one every
{ROUND_SECONDS}s. This site: its ping lab's stream, the events of back-to-back ping runs
(queued, started, five steps, succeeded), each recorded by labs.events.event_publish (XADD,
its frame rendered, PUBLISH) in one of {PUBLISHERS} processes, as workers record them.
{ANCHOR}: {ANCHOR_VERSION}, one channel per learner, each event published from the same
processes on Redis as its send_event() does for several processes. "delivered" counts events whose
frame arrived within {DELIVERY_TIMEOUT_SECONDS:.0f}s; latency runs from the publish to the frame's
arrival here (nearest-rank p50/p99). "CPU us/ev" is the web process's CPU while
publishing over the events delivered, "x anchor" its ratio to {ANCHOR}'s at the same N,
in this run. "KB/stream" is the RSS growth with the streams open over their number;
"threads" and "redis" (connections) are the web process's with the streams open; "paused"
counts false "broker paused" frames.
{GOALS}"""
    )


def series(server, counts, learners, web: Child, port: int, monitor, publish: str,
           publishers: ProcessPoolExecutor) -> list[Row]:  # fmt: skip
    """One row per number of learners, on the server ``web``, after a warm-up not reported."""
    asyncio.run(measure(server, learners(1), port, web.pid, monitor, WARMUP_EVENTS, publish,
                        publishers))  # fmt: skip
    rows = []
    for count in counts:
        budget_check(f"starting {server} with N={count}")
        row = asyncio.run(
            measure(server, learners(count), port, web.pid, monitor,
                    events_per_learner(count), publish, publishers)
        )  # fmt: skip
        rows.append(row)
        print(
            f"bench: {server} N={count} done ({row.delivered}/{row.published} delivered, "
            f"p99 {row.p99:.1f} ms)",
            flush=True,
        )
        if web.process.poll() is not None:
            raise RuntimeError(f"{server} exited:\n{web.log_tail()}")
        # Until the web process has let the closed streams go, so each row starts alike.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and redis_web_connections(monitor)[1] > 1:
            time.sleep(0.1)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description="Live event streams under load.")
    parser.add_argument("--counts", type=int, nargs="+", default=LEARNER_COUNTS,
                        help="numbers of learners to run (default: %(default)s)")  # fmt: skip
    counts = tuple(parser.parse_args().counts)
    anchor_counts = tuple(n for n in ANCHOR_COUNTS if n in counts)
    var_dir = Path(tempfile.mkdtemp(prefix="lsbench-"))
    socket_path = var_dir / "redis.sock"
    env = site_env(var_dir, PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")
    children: list[Child] = []
    publishers: ProcessPoolExecutor | None = None

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous_term = signal.signal(signal.SIGTERM, terminate)
    try:
        os.environ.update({k: v for k, v in env.items() if k != "PYTHONUNBUFFERED"})
        import django

        django.setup()  # also writes the dev secret key that the children will share
        import redis

        from learnsite.redis import redis_client

        # Name this script's connections so that CLIENT LIST can leave them out.
        redis_client().connection_pool.connection_kwargs["client_name"] = f"{BENCH_CLIENT_NAME}-pub"
        monitor = redis.Redis.from_url(
            env["REDIS_URL"], client_name=f"{BENCH_CLIENT_NAME}-monitor", decode_responses=True
        )

        print(f"bench: temp dir {var_dir}", flush=True)
        children.append(redis_start(env, var_dir))
        publishers = ProcessPoolExecutor(
            PUBLISHERS, mp_context=multiprocessing.get_context("spawn"),
            initializer=publisher_start, initargs=(os.environ.copy(),),
        )  # fmt: skip
        list(publishers.map(time.sleep, [0] * PUBLISHERS))  # each started before any timing

        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT, env=env, check=True, timeout=STEP_TIMEOUT_SECONDS * 2,
        )  # fmt: skip

        rows: list[Row] = []
        port = free_port()
        web = Child("web", site_web_argv(port), env, var_dir)
        children.append(web)
        web.wait_ready(lambda: http_answers(port))
        print(f"bench: redis + uvicorn (pid {web.pid}) up on port {port}", flush=True)

        def learners(count: int) -> list[Stream]:
            with ThreadPoolExecutor(SESSION_THREADS) as pool:
                keys = list(pool.map(lambda _: learner_session(port), range(count)))
            return [Stream(SITE_PATH, cookie_header(key), learner_id_of(key)) for key in keys]

        rows += series(SITE, counts, learners, web, port, monitor, "site", publishers)
        web.stop()

        port = free_port()
        anchor_argv = [
            str(anchors_python()), "-m", "uvicorn", "--app-dir", str(ROOT / "bench"),
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--no-access-log", "eventstream_site:application",
        ]  # fmt: skip
        anchor = Child("eventstream", anchor_argv, env | {"BENCH_REDIS_SOCKET": str(socket_path)},
                       var_dir)  # fmt: skip
        children.append(anchor)
        anchor.wait_ready(lambda: http_answers(port))

        def anchor_learners(count: int) -> list[Stream]:
            return [Stream(f"/events/{n}/", "", str(n)) for n in range(count)]

        rows += series(ANCHOR, anchor_counts, anchor_learners, anchor, port, monitor, "anchor",
                       publishers)  # fmt: skip
        monitor.close()
        print_table(rows)
        return 0
    except KeyboardInterrupt:
        print("\nbench: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if publishers is not None:
            publishers.shutdown(cancel_futures=True)
        for child in reversed(children):
            with contextlib.suppress(Exception):
                child.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
