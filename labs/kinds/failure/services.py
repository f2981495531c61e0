"""When Redis fails: a crash or a full memory, done for real to a Redis of the run's own.

The task starts a redis-server of its own (``learnsite.sandbox.private_redis``: a free loopback
port, its files in a temporary folder), never touching the site's, and reports each step to the
page as a lab event. Nothing the learner sends reaches Redis but a mode chosen from a fixed
list (``MODES``).
"""

import contextlib
import tempfile
import threading
import time
from pathlib import Path

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from labs.events import event_publish
from labs.services import LabError, lab_run_start
from learnsite.sandbox import PrivateRedis, SandboxFailed, private_redis

from .fold import (
    CRASH_MODES,
    JOB_BYTES,
    JOBS,
    MAXMEMORY,
    MEMORY_JOBS,
    MODES,
    PUBLISHED,
)

LAB = "failure"
CHANNEL = "news"
# Waits on a condition (a subscriber got its messages, is subscribed again), at most this long.
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.02
# The run's own Redis answers within this, or the run says so instead of hanging.
SOCKET_SECONDS = 5
BACKSTOP_SECONDS = 60


class RunFailed(Exception):
    """The experiment could not go on; the message says why, for the page."""


def failure_run_start(*, learner_id: str, mode: str, task) -> str:
    """Queue a run of ``mode`` (one of ``MODES``) for the learner; returns its id."""
    if mode not in MODES:
        raise LabError(f"Pick one of the experiments offered: {', '.join(MODES)}.")
    return lab_run_start(learner_id=learner_id, lab=LAB, task=task, options={"mode": mode})


def failure_run_execute(*, learner_id: str, run_id: str, mode: str, worker: str) -> dict:
    """The worker's side: the experiment ``mode`` on a Redis of the run's own, step by step."""
    base = {"run": run_id, "lab": LAB}

    def report(kind: str, **fields) -> None:
        event_publish(learner_id=learner_id, lab=LAB, event={**base, "kind": kind, **fields})

    def step(phase: str, numbers: dict, detail: str = "") -> None:
        report("step", phase=phase, numbers=numbers, detail=detail)

    report("started", worker=worker)
    try:
        if mode not in MODES:
            raise RunFailed(f"No such experiment: {mode!r}.")
        with (
            tempfile.TemporaryDirectory(prefix="failure-lab-") as folder,
            private_redis(workdir=Path(folder), durable=mode == "aof") as server,
        ):
            if mode in CRASH_MODES:
                result = crash_run(server=server, mode=mode, step=step)
            else:
                result = memory_run(server=server, policy=mode, step=step)
    except (RunFailed, SandboxFailed, redis.RedisError, OSError) as error:
        report("failed", error=str(error)[:500])
        return {"failed": str(error)[:500]}
    report("succeeded", result=result)
    return result


def _client(url: str, **options) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=SOCKET_SECONDS,
                                **options)  # fmt: skip


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RunFailed(f"Gave up after {WAIT_SECONDS:.0f} s waiting for {what}.")
        time.sleep(POLL_SECONDS)


class Subscriber:
    """A subscriber on its own thread, as an application runs one: it reads the channel,
    counts what it gets, and on a ConnectionError counts it and reads again."""

    def __init__(self, url: str, **options) -> None:
        self.pubsub = _client(url, **options).pubsub(ignore_subscribe_messages=True)
        self.received: list[str] = []
        self.errors = 0
        self.stopping = threading.Event()
        self.pubsub.subscribe(CHANNEL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stopping.is_set():
            try:
                message = self.pubsub.get_message(timeout=0.1)
            except redis.ConnectionError:
                self.errors += 1
                self.stopping.wait(0.1)
                continue
            if message and message["type"] == "message":
                self.received.append(message["data"])

    def got(self, prefix: str) -> int:
        return sum(1 for data in self.received if data.startswith(prefix))

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):
            self.pubsub.close()


def _publish_all(r: redis.Redis, prefix: str, subscribers: dict[str, Subscriber]) -> None:
    for n in range(1, PUBLISHED + 1):
        r.publish(CHANNEL, f"{prefix}-{n}")
    _wait(
        lambda: all(sub.got(prefix) >= PUBLISHED for sub in subscribers.values()),
        "the subscribers to get their messages",
    )


def crash_run(*, server: PrivateRedis, mode: str, step) -> dict:
    """Jobs in a list, entries in a stream, two subscribers; SIGKILL, start again, and count."""
    r = _client(server.url)
    config = r.config_get("appendonly") | r.config_get("appendfsync") | r.config_get("save")
    step("ready", config, detail=", ".join(f"{k} {v or '(none)'}" for k, v in config.items()))
    for n in range(1, JOBS + 1):
        r.lpush("jobs", f"job-{n}")
        r.xadd("events", {"job": n})
        if mode == "rdb" and n == 2:
            r.save()  # what a `save` rule would have done at that moment
    # The plain one is what Redis.from_url gives (no retries); the other retries as
    # redis.Redis(host=..., port=...) does by default (10 times, backing off).
    subscribers = {
        "plain": Subscriber(server.url),
        "retry": Subscriber(server.url, retry=Retry(ExponentialWithJitterBackoff(), 10)),
    }
    try:
        _wait(lambda: r.pubsub_numsub(CHANNEL)[0][1] == 2, "both subscribers to subscribe")
        _publish_all(r, "before", subscribers)
        received = {name: sub.got("before") for name, sub in subscribers.items()}
        step("filled", {"jobs": r.llen("jobs"), "entries": r.xlen("events"), "received": received})
        killed_at = time.monotonic()
        server.kill()
        step("killed", {})
        refused = {}
        for command, call in (
            ("LPUSH", lambda: r.lpush("jobs", "job-4")),
            ("PUBLISH", lambda: r.publish(CHANNEL, "while-down")),
        ):
            try:
                call()
            except redis.ConnectionError as error:
                refused[command] = f"{type(error).__name__}: {error}"
        detail = ", ".join(
            f"{command} raised {text.split(':')[0]}" for command, text in refused.items()
        )
        step("down", {"refused": refused}, detail=detail)
        server.start()
        down_ms = round((time.monotonic() - killed_at) * 1000)
        jobs, entries = r.llen("jobs"), r.xlen("events")
        step("restarted", {"down_ms": down_ms}, detail=f"down for {down_ms} ms")
        # Neither subscriber is told to subscribe again: redis-py does it as it reconnects.
        _wait(lambda: r.pubsub_numsub(CHANNEL)[0][1] == 2, "the subscribers to come back")
        step("resubscribed", {})
        _publish_all(r, "after", subscribers)
    finally:
        for sub in subscribers.values():
            sub.stop()
    after = {
        "jobs": jobs,
        "entries": entries,
        "received": {name: sub.got("after") for name, sub in subscribers.items()},
        "errors": {name: sub.errors for name, sub in subscribers.items()},
    }
    step("after", after, detail=f"{jobs} of {JOBS} jobs, {entries} of {JOBS} stream entries")
    return {"mode": mode, "down_ms": down_ms, **after}


def memory_run(*, server: PrivateRedis, policy: str, step) -> dict:
    """MEMORY_JOBS jobs of JOB_BYTES into a Redis of MAXMEMORY under ``policy``: what the
    producer was told, and what the list holds at the end."""
    r = _client(server.url)
    r.config_set("maxmemory-policy", policy)
    r.config_set("maxmemory", MAXMEMORY)
    step("ready", {"maxmemory": MAXMEMORY, "maxmemory-policy": policy},
         detail=f"maxmemory {MAXMEMORY}, maxmemory-policy {policy}")  # fmt: skip
    accepted = refused = 0
    error_text = ""
    for n in range(1, MEMORY_JOBS + 1):
        try:
            r.lpush("jobs", f"{n:05d}".ljust(JOB_BYTES, "j"))
            accepted += 1
        except redis.exceptions.OutOfMemoryError as error:
            refused += 1
            error_text = error_text or f"{type(error).__name__}: {error}"
        if n % 500 == 0 and n < MEMORY_JOBS:
            step("pushing", {"pushed": n, "accepted": accepted, "refused": refused,
                             "in_list": r.llen("jobs")})  # fmt: skip
    numbers = {
        "pushed": MEMORY_JOBS,
        "accepted": accepted,
        "refused": refused,
        "in_list": r.llen("jobs"),
        "evicted_keys": r.info("stats")["evicted_keys"],
        "error": error_text,
    }
    step("full", numbers, detail=error_text or "no error for the producer")
    return {"mode": policy, **numbers}
