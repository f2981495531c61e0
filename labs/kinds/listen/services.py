"""The "blocking listen() trap" lab's work: three ways to consume a channel, run side by side.

A Celery task (``listen_trap_execute``) starts the sandbox ``sandbox.py`` (beside this module)
with subprocess, as a script, in a process group of its own, with nothing of the site's
environment but the Redis URL. The sandbox answers heartbeat requests every ``HEARTBEAT_MS`` in
each of its three modes (listen(), get_message(timeout=…), a background thread) and prints its
timeline as JSON lines. The task publishes a message on the sandbox's channel at
``PUBLISH_AT_SECONDS`` after it is ready (a message a second, then a quiet spell, then two
more), forwards the timeline to the page as lab events every ``FLUSH_SECONDS``, and kills the
sandbox's process group at ``LIMIT_SECONDS``: like a server, it never ends by itself. The web
server only ever reads the events, so the site never waits on the sandbox.
"""

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from redis.exceptions import RedisError

from labs.channels import CHANNEL_PREFIX
from labs.events import event_publish, events_read
from labs.services import BROKER_DOWN, BrokerUnavailable, LabError, lab_run_start
from learnsite.redis import redis_client

from .fold import HEARTBEAT_MS, LIMIT_SECONDS, MODES, PUBLISH_AT_SECONDS, ListenFold

LAB = "listen"
# A program of its own, run as a script: never imported.
SANDBOX = Path(__file__).resolve().parent / "sandbox.py"

READY_TIMEOUT_SECONDS = 5
FLUSH_SECONDS = 0.5
# The sandbox's own alarm, should the task die before it kills the sandbox.
BACKSTOP_SECONDS = LIMIT_SECONDS + 20
# What is read from the sandbox at most; the rest is drained and dropped.
POINTS_MAX = 2000
OUTPUT_LINES_KEPT = 20
POINT_KINDS = {"start", "ready", "asked", "answered", "received", "error"}


def sandbox_channel(learner_id: str, run_id: str) -> str:
    # Outside the event hub's pattern (see labs.channels), so PUBLISH counts the sandbox only.
    return f"{CHANNEL_PREFIX}{learner_id}:listen:{run_id}"


# Starting a run, and the worker's side.


def listen_run_start(*, learner_id: str, task) -> str:
    """Queue a sandbox run for the learner, the Celery ``task`` (one at a time); returns the run
    id."""
    try:
        events = events_read(learner_id=learner_id, lab=LAB)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    if any(run.active for run in ListenFold.fold(events, now=time.time())):
        raise LabError("Your sandbox is still running: watch it end first.")
    return lab_run_start(learner_id=learner_id, lab=LAB, task=task)


def _sandbox_env() -> dict:
    """Nothing of the worker's environment (no secrets, no database) but the Redis URL."""
    return {
        "LISTEN_TRAP_REDIS_URL": settings.REDIS_URL,
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
    }


def _pipe_lines(pipe, lines: queue.Queue) -> None:
    for raw in pipe:
        lines.put(raw)
    lines.put(None)


def _point(raw: bytes) -> dict | None:
    """One line of the sandbox's timeline, with only the fields the page uses; None if not."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(line, dict) or line.get("kind") not in POINT_KINDS:
        return None
    if not isinstance(line.get("t"), int):
        return None
    point = {"t": line["t"], "kind": line["kind"]}
    if line.get("mode") in MODES:
        point["mode"] = line["mode"]
    for name in ("seq", "asked", "pid"):
        if isinstance(line.get(name), int):
            point[name] = line[name]
    for name, limit in (("data", 100), ("error", 300)):
        if isinstance(line.get(name), str):
            point[name] = line[name][:limit]
    return point


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the sandbox leads its own group
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _gone(pid: int) -> bool:
    """True when neither the process nor any process of its group is left."""
    for check in (os.kill, os.killpg):
        try:
            check(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return False
        return False
    return True


def listen_trap_execute(*, learner_id: str, run_id: str, worker: str) -> dict:
    """Run the sandbox for LIMIT_SECONDS, publish to it, stream its timeline, then kill it."""
    base = {"run": run_id, "lab": LAB}
    event_publish(
        learner_id=learner_id, lab=LAB, event={**base, "kind": "started", "worker": worker}
    )
    channel = sandbox_channel(learner_id, run_id)
    argv = [
        sys.executable, "-I", str(SANDBOX), "--channel", channel,
        "--heartbeat-ms", str(HEARTBEAT_MS), "--max-seconds", str(BACKSTOP_SECONDS),
    ]  # fmt: skip
    # Our own program with a fixed argv: nothing in it comes from the learner.
    process = subprocess.Popen(  # noqa: S603
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=_sandbox_env(), cwd=SANDBOX.parent, start_new_session=True,
    )  # fmt: skip
    started = time.monotonic()
    kill_at = started + LIMIT_SECONDS
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pipe_lines, args=(process.stdout, lines), daemon=True).start()
    batch: list[dict] = []
    output: list[str] = []
    state = {"ready_at": None, "ready_t": 0, "published": 0, "points": 0, "ended": False}

    def sandbox_t(now: float) -> int:
        """A time of the task's clock on the sandbox's (ms since it started)."""
        return state["ready_t"] + round((now - state["ready_at"]) * 1000)

    def take(raw: bytes) -> None:
        point = _point(raw)
        if point is None:
            if len(output) < OUTPUT_LINES_KEPT:
                output.append(raw.decode(errors="replace").rstrip()[:300])
            return
        if state["points"] >= POINTS_MAX:
            return
        state["points"] += 1
        batch.append(point)
        if point["kind"] == "ready":
            state["ready_at"], state["ready_t"] = time.monotonic(), point["t"]

    def flush() -> None:
        if batch:
            event_publish(
                learner_id=learner_id,
                lab=LAB,
                event={**base, "kind": "timeline", "points": batch[:]},
            )
            batch.clear()

    failure, flushed = "", started
    try:
        while True:
            now = time.monotonic()
            if now >= kill_at:
                break
            ready_at = state["ready_at"]
            if ready_at is None and now - started > READY_TIMEOUT_SECONDS:
                failure = "The sandbox did not subscribe to its channel in time."
                break
            due = None
            if ready_at is not None and state["published"] < len(PUBLISH_AT_SECONDS):
                due = ready_at + PUBLISH_AT_SECONDS[state["published"]]
                if now >= due:
                    state["published"] += 1
                    data = f"message {state['published']}"
                    receivers = redis_client().publish(channel, data)
                    point = {"t": sandbox_t(now), "kind": "published", "data": data}
                    batch.append(point | {"receivers": receivers})
                    continue
            if now - flushed >= FLUSH_SECONDS:
                flush()
                flushed = now
            wake = min(t for t in (kill_at, due, flushed + FLUSH_SECONDS) if t is not None)
            try:
                raw = lines.get(timeout=max(0.01, wake - now))
            except queue.Empty:
                continue
            if raw is None:
                state["ended"] = True
                break
            take(raw)
    finally:
        killed = time.monotonic()
        _kill_group(process)
    while True:  # what the sandbox printed before it was killed
        try:
            raw = lines.get(timeout=2)
        except queue.Empty:
            break
        if raw is None:
            break
        take(raw)
    gone = _gone(process.pid)
    end_t = sandbox_t(killed) if state["ready_at"] else round((killed - started) * 1000)
    killed_point = {"pid": process.pid, "gone": gone, "limit_seconds": LIMIT_SECONDS}
    batch.append({"t": end_t, "kind": "killed", **killed_point})
    flush()
    if state["ended"] and not failure:
        failure = "The sandbox ended before its time limit."
    if failure:
        error = " ".join([failure, *output[-3:]])
        event_publish(
            learner_id=learner_id, lab=LAB, event={**base, "kind": "failed", "error": error}
        )
        return {"failed": failure, "pid": process.pid, "gone": gone}
    result = {
        "pid": process.pid,
        "returncode": process.returncode,
        "gone": gone,
        "limit_seconds": LIMIT_SECONDS,
        "worker": worker,
    }
    event_publish(
        learner_id=learner_id, lab=LAB, event={**base, "kind": "succeeded", "result": result}
    )
    return result
