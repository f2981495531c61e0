"""The "watch a live system" lab's work: a worker of the run's own, watched as a dashboard is.

A Celery task (``watch_run_execute``, on ``labs-long``) starts a private Redis and a private
worker with ``-E`` from the plain program ``home/tasks.py`` (learnsite/sandbox.py), listens to
its events with ``app.events.Receiver`` feeding an ``app.events.State`` (what ``celery events``
and Flower do), sends a burst of tasks, and every SAMPLE_SECONDS reads the queue's length
(LLEN) and publishes a ``sample`` for the page. Once, just after the burst, it asks the worker
over the broker what it holds (``inspect().active()`` and ``reserved()``). When the burst is
done it stops the worker with SIGTERM (a warm shutdown, which says ``worker-offline``) and
kills everything. The alert on the queue's length is worked out by the fold, from the samples.
Nothing here touches the site's Redis but the run's events.
"""

import contextlib
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from labs.events import event_publish, events_read
from labs.services import BROKER_DOWN, BrokerUnavailable, LabError, lab_run_start
from learnsite.sandbox import SandboxFailed, private_redis, private_worker

from .fold import (
    BURSTS,
    CONCURRENCY,
    SAMPLE_SECONDS,
    TASK_EVENTS,
    TASK_SECONDS,
    THRESHOLDS,
    WatchFold,
)

LAB = "watch"
# The learner's program, copied into the run's folder and shown on the page: never imported.
PROGRAM = Path(__file__).resolve().parent / "home" / "tasks.py"
QUEUE = "celery"
# Redis keeps a queue's messages of priority 3, 6 and 9 in lists of their own, beside it.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
WORKER_OPTIONS = ("-E", "--pool", "threads", "--concurrency", str(CONCURRENCY))
WORKER_HOSTNAME = "watch@%h"
LISTEN_TIMEOUT_SECONDS = 5  # for the receiver to subscribe
DRAIN_LIMIT_SECONDS = 25  # for the worker to finish the burst
INSPECT_TIMEOUT_SECONDS = 2
OFFLINE_WAIT_SECONDS = 5
# The site's own backstop on the task (not enforced by the threads pool: the run keeps its own).
BACKSTOP_SECONDS = 90

CHOICE_INVALID = (
    f"Choose a burst of {', '.join(map(str, BURSTS))} tasks and an alert threshold of "
    f"{', '.join(map(str, THRESHOLDS))}. Nothing was started."
)


def watch_run_start(*, learner_id: str, task, burst: str, threshold: str) -> str:
    """Queue a run with a burst and threshold chosen from the lab's lists; returns its id."""
    sizes = {str(size): size for size in BURSTS}
    levels = {str(level): level for level in THRESHOLDS}
    if burst not in sizes or threshold not in levels:
        raise LabError(CHOICE_INVALID)
    try:
        events = events_read(learner_id=learner_id, lab=LAB)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    if any(run.active for run in WatchFold.fold(events, now=time.time())):
        raise LabError("Your watched worker is still running: let its run end first.")
    options = {"burst": sizes[burst], "threshold": levels[threshold]}
    return lab_run_start(learner_id=learner_id, lab=LAB, task=task, options=options)


def queue_length(client: redis.Redis, queue: str) -> int:
    """The messages waiting in ``queue``: its list and its priority lists, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for suffix in PRIORITY_SUFFIXES:
        pipe.llen(queue + suffix)
    return sum(pipe.execute())


class Watcher:
    """What ``celery events`` does: a Receiver on its own thread, feeding a State, and counting
    each kind of event as it comes."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.state = app.events.State()
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        self.receiver = None
        self.thread = threading.Thread(target=self._listen, daemon=True)

    def _event(self, event: dict) -> None:
        with self.lock:
            self.counts[event["type"]] += 1
            self.state.event(event)

    def _listen(self) -> None:
        with self.app.connection_for_read() as connection:
            self.receiver = self.app.events.Receiver(connection, handlers={"*": self._event})
            # The run's Redis is killed under it at the end: whatever it raises then is moot.
            with contextlib.suppress(Exception):
                self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def start(self, client: redis.Redis) -> None:
        """Start listening, and return once the receiver has subscribed (events sent before
        that would be lost: pub/sub keeps nothing for a listener yet to come)."""
        patterns = client.execute_command("PUBSUB", "NUMPAT")
        self.thread.start()
        deadline = time.monotonic() + LISTEN_TIMEOUT_SECONDS
        while client.execute_command("PUBSUB", "NUMPAT") <= patterns:
            if time.monotonic() > deadline:
                raise SandboxFailed("The event receiver did not subscribe in time.")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.should_stop = True

    def read(self) -> dict:
        with self.lock:
            states = Counter(task.state for task in self.state.tasks.values())
            workers = list(self.state.workers.values())
            last = workers[0] if workers else None
            return {
                "counts": {name: self.counts[name] for name in TASK_EVENTS},
                "heartbeats": self.counts["worker-heartbeat"],
                "online": self.counts["worker-online"],
                "offline": self.counts["worker-offline"],
                "states": dict(states),
                "alive": bool(last and last.alive),
                "processed": last.processed if last else 0,
            }


def _snapshot(app: Celery, hostname: str, started: float, client: redis.Redis, publish) -> None:
    """One ``inspect()`` of the watched worker: what it runs, and what it has taken but not
    started. Over the broker: a PUBLISH on the pidbox channel, answered in a reply list."""
    t = round((time.monotonic() - started) * 1000)
    length = queue_length(client, QUEUE)
    inspect = app.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS, destination=[hostname], limit=1)
    active, reserved = inspect.active() or {}, inspect.reserved() or {}
    publish(
        kind="snapshot",
        t=t,
        length=length,
        replied=hostname in active and hostname in reserved,
        active=len(active.get(hostname, [])),
        reserved=len(reserved.get(hostname, [])),
    )


def watch_run_execute(*, learner_id: str, run_id: str, burst: int, threshold: int,
                      worker: str) -> dict:  # fmt: skip
    """Start the run's Redis and worker, watch a burst of ``burst`` tasks through, stop them."""

    def publish(**event) -> None:
        event_publish(learner_id=learner_id, lab=LAB, event={"run": run_id, "lab": LAB, **event})

    publish(kind="started", worker=worker)
    if burst not in BURSTS or threshold not in THRESHOLDS:
        publish(kind="failed", error=CHOICE_INVALID)
        return {"failed": CHOICE_INVALID}
    try:
        result = _watch(burst=burst, publish=publish)
    except (SandboxFailed, RedisError, OSError, OperationalError) as error:
        # The run's own Redis or worker failed: the page says so instead of waiting for news.
        publish(kind="failed", error=str(error)[:500] or type(error).__name__)
        return {"failed": str(error)[:500]}
    publish(kind="succeeded", result=result)
    return result


def _watch(*, burst: int, publish) -> dict:
    with tempfile.TemporaryDirectory(prefix="watch-") as folder:
        workdir = Path(folder)
        shutil.copy(PROGRAM, workdir / "tasks.py")
        with private_redis(workdir=workdir) as server:
            client = redis.Redis.from_url(server.url)
            app = Celery(broker=server.url, set_as_current=False)
            # As tasks.py says: the sender's task-sent events.
            app.conf.task_send_sent_event = True
            try:
                begun = time.monotonic()
                with private_worker(
                    workdir=workdir,
                    redis_url=server.url,
                    options=WORKER_OPTIONS,
                    hostname=WORKER_HOSTNAME,
                ) as sandbox:
                    start_ms = round((time.monotonic() - begun) * 1000)
                    hostname = WORKER_HOSTNAME.replace("%h", socket.gethostname())
                    watcher = Watcher(app)
                    watcher.start(client)
                    publish(kind="ready", sandbox_worker=hostname, worker_start_ms=start_ms)
                    try:
                        summary = _burst_watch(
                            app=app, client=client, watcher=watcher, hostname=hostname,
                            burst=burst, publish=publish,
                        )  # fmt: skip
                        sandbox.signal(signal.SIGTERM)  # warm shutdown: worker-offline
                        deadline = time.monotonic() + OFFLINE_WAIT_SECONDS
                        while not watcher.read()["offline"] and time.monotonic() < deadline:
                            time.sleep(0.05)
                        seen = watcher.read()
                    finally:
                        watcher.stop()
            finally:
                client.close()
                app.close()
    return {
        **summary,
        "worker_start_ms": start_ms,
        "online_seen": seen["online"],
        "offline_seen": seen["offline"],
        "alive_after": seen["alive"],
        "states": seen["states"],
        "heartbeats": seen["heartbeats"],
    }


def _burst_watch(*, app: Celery, client: redis.Redis, watcher: Watcher, hostname: str,
                 burst: int, publish) -> dict:  # fmt: skip
    """Send the burst, then sample until every task has ended; returns the figures."""
    started = time.monotonic()
    for _ in range(burst):
        app.send_task("tasks.work", args=(TASK_SECONDS,))
    snapshot = threading.Thread(
        target=_snapshot, args=(app, hostname, started, client, publish), daemon=True
    )
    snapshot.start()
    deadline = started + DRAIN_LIMIT_SECONDS
    tick = started
    while True:
        tick += SAMPLE_SECONDS
        time.sleep(max(0.0, tick - time.monotonic()))
        length = queue_length(client, QUEUE)
        seen = watcher.read()
        t = round((time.monotonic() - started) * 1000)
        publish(kind="sample", t=t, length=length, counts=seen["counts"],
                heartbeats=seen["heartbeats"], alive=seen["alive"])  # fmt: skip
        ended = seen["counts"]["task-succeeded"] + seen["counts"]["task-failed"]
        if ended >= burst and length == 0:
            break
        if time.monotonic() > deadline:
            raise SandboxFailed(
                f"The worker had ended {ended} of {burst} tasks after {DRAIN_LIMIT_SECONDS} s."
            )
    snapshot.join(INSPECT_TIMEOUT_SECONDS * 2 + 1)
    return {"burst": burst, "drained_ms": t, "counts": seen["counts"]}
