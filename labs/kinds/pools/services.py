"""The "Worker pools" lab's work: eight tasks on a pool the learner chose, timed.

A run (the Celery task ``labs.pools_run``, on the labs-long queue) writes ``program.py`` (beside
this module) as ``tasks.py`` into a folder of its own, starts a redis-server and a Celery worker
of that program there (learnsite/sandbox.py) with the chosen ``--pool`` and ``--concurrency``,
asks the worker what its pool is (``inspect stats``), sends it the eight tasks and forwards
each task's start and finish, as the tasks note them in the list ``timeline``, to the page. It
never touches the site's Redis or workers, other than publishing the run's events.
"""

import json
import tempfile
import time
from pathlib import Path

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from labs.events import event_publish
from labs.services import LabError, lab_run_start
from learnsite.sandbox import SandboxFailed, private_redis, private_worker

from .fold import CONCURRENCIES, POOLS, TASKS, WORKLOADS

LAB = "pools"
# A program of its own, written to the run's folder as tasks.py: never imported.
PROGRAM = Path(__file__).resolve().parent / "program.py"
# All eight tasks must be done this long after they were sent (8 s of sleeps on solo, or of
# hashing on a loaded machine, fit well); else the run failed.
TASKS_SECONDS = 45
# What a run may take at most, worker start included: the task's backstop.
RUN_SECONDS = 90
POINT_FIELDS = {"task", "event", "pid", "thread"}


def pools_options(*, pool: str, concurrency: str, workload: str) -> dict:
    """The run's options, each one of the lab's fixed choices; LabError otherwise."""
    if pool not in POOLS:
        raise LabError(f"Choose a pool: {', '.join(POOLS)}.")
    if workload not in WORKLOADS:
        raise LabError(f"Choose a workload: {', '.join(WORKLOADS)}.")
    if concurrency not in {str(n) for n in CONCURRENCIES}:
        raise LabError(f"Choose a concurrency: {', '.join(map(str, CONCURRENCIES))}.")
    # The solo pool runs one task at a time whatever -c says (Celery sets its limit to 1).
    slots = 1 if pool == "solo" else int(concurrency)
    return {"pool": pool, "concurrency": slots, "workload": workload}


def pools_run_start(*, learner_id: str, pool: str, concurrency: str, workload: str, task) -> str:
    """Queue a run for the learner, the Celery ``task``; returns the run id."""
    options = pools_options(pool=pool, concurrency=concurrency, workload=workload)
    return lab_run_start(learner_id=learner_id, lab=LAB, task=task, options=options)


def _pool_stats(redis_url: str) -> dict:
    """What the run's worker says of its pool (``celery inspect stats``): the first reply."""
    app = Celery(broker=redis_url, set_as_current=False)
    try:
        replies = app.control.inspect(timeout=2, limit=1).stats() or {}
    finally:
        app.close()
    stats = next(iter(replies.values()), {})
    pool = stats.get("pool", {})
    # Named for a template ("max-concurrency" is not a name it can read).
    shown = {
        "implementation": pool.get("implementation", ""),
        "max_concurrency": pool.get("max-concurrency"),
        "processes": pool.get("processes"),
    }
    return {"pool": shown, "prefetch_count": stats.get("prefetch_count")}


def _point(raw: bytes, sent: float) -> dict | None:
    """A task's note from the list ``timeline``, its time made ms after the tasks were sent."""
    try:
        note = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(note, dict) or not isinstance(note.get("t"), (int, float)):
        return None
    point = {name: note[name] for name in POINT_FIELDS if name in note}
    point["ms"] = round((note["t"] - sent) * 1000)
    if isinstance(note.get("cpu"), (int, float)):
        point["cpu_ms"] = round(note["cpu"] * 1000)
    return point


def _race(*, redis_url: str, workload: str, publish) -> dict:
    """Send the eight tasks, forward their notes as they come; the run's result."""
    client = redis.Redis.from_url(redis_url)
    app = Celery("tasks", broker=redis_url, set_as_current=False)
    try:
        sent = time.time()
        for number in range(1, TASKS + 1):
            app.send_task("tasks.work", args=(number, workload))
        deadline = time.monotonic() + TASKS_SECONDS
        finished, last_ms = 0, 0
        while finished < TASKS:
            if time.monotonic() > deadline:
                return {"error": f"Only {finished} of {TASKS} tasks finished in {TASKS_SECONDS} s."}
            popped = client.blpop(["timeline"], timeout=1)
            if popped is None:
                continue
            # Whatever else is there already goes in the same event.
            raws = [popped[1], *(client.lpop("timeline", 100) or [])]
            points = [p for p in (_point(raw, sent) for raw in raws) if p is not None]
            finished += sum(1 for p in points if p.get("event") == "finish")
            last_ms = max([last_ms, *(p["ms"] for p in points)])
            publish({"kind": "points", "points": points})
        return {"total_ms": last_ms}
    finally:
        app.close()
        client.close()


def pools_run_execute(
    *,
    learner_id: str,
    run_id: str,
    worker: str,
    pool: str,
    concurrency: int,
    workload: str,
    program: Path = PROGRAM,
) -> dict:
    """Start the run's Redis and worker of ``program``, race the eight tasks on it, and kill
    both. The run ends succeeded or failed, with the reason: never silent."""

    def publish(event: dict) -> None:
        event_publish(learner_id=learner_id, lab=LAB, event={"run": run_id, "lab": LAB, **event})

    options = pools_options(pool=pool, concurrency=str(concurrency), workload=workload)
    publish({"kind": "started", "worker": worker})
    argv = ("--pool", options["pool"], "--concurrency", str(options["concurrency"]))
    try:
        with tempfile.TemporaryDirectory(prefix="pools-") as folder:
            workdir = Path(folder)
            (workdir / "tasks.py").write_text(program.read_text())
            begun = time.monotonic()
            with (
                private_redis(workdir=workdir) as sandbox,
                private_worker(
                    workdir=workdir, redis_url=sandbox.url, options=(*argv, "--without-heartbeat")
                ),
            ):
                started_ms = round((time.monotonic() - begun) * 1000)
                publish({"kind": "ready", "start_ms": started_ms, **_pool_stats(sandbox.url)})
                result = _race(redis_url=sandbox.url, workload=workload, publish=publish)
    except SandboxFailed as error:
        # Which process did not start, then the end of its log, where the reason is.
        first, *log = str(error).splitlines()
        result = {"error": " ".join([first, *log[-3:]])[:600]}
    except (redis.RedisError, OSError, OperationalError) as error:
        result = {"error": f"The run's own Redis failed: {type(error).__name__}: {error}"[:500]}
    if "error" in result:
        publish({"kind": "failed", "error": result["error"]})
    else:
        publish({"kind": "succeeded", **result})
    return result
