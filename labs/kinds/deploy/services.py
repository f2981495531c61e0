"""The deploy lab's work: stop a worker mid-task, warm, cold or killed, then start a new one.

A Celery task on the ``labs-long`` queue (``deploy_run_execute``) starts a Redis and a worker of
the run's own (learnsite/sandbox.py) from the plain program ``home_tasks.py`` (copied as
``tasks.py``), sends it three two-second tasks (one acks_late, as the learner chose), stops the
worker one second into the first as the learner chose, reads the Redis with no worker running
(the queue's list and the hash ``unacked``), starts a new worker and waits until every task
that can still run has run. Last, it tries three commands as an ACL user limited to the
broker's keys. Each step is a lab event; the site's own Redis and workers are never touched.
"""

import json
import signal
import tempfile
import time
from pathlib import Path

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from labs.events import event_publish
from labs.services import LabError, lab_run_start
from learnsite.sandbox import SandboxFailed, private_redis, private_worker

from .fold import LATE_CHOICES, STOP_AFTER_SECONDS, STOPS, TASKS, VISIBILITY_TIMEOUT_SECONDS

LAB = "deploy"
PROGRAM = Path(__file__).resolve().parent / "home_tasks.py"
WORKER_OPTIONS = ("--pool", "prefork", "--concurrency", "1", "--without-heartbeat")
# The new worker runs what is left side by side: the run is shorter, and the lesson's point
# (where each task went) is the same.
NEW_WORKER_OPTIONS = ("--pool", "prefork", "--concurrency", "3", "--without-heartbeat")
SIGNALS = {"warm": signal.SIGTERM, "cold": signal.SIGQUIT}
# Waits, each a backstop: none of them is reached when things go as they should.
FIRST_TASK_SECONDS = 10
EXIT_SECONDS = 20
# The new worker: the visibility timeout and the tasks left (2 s), with room to spare.
DRAIN_SECONDS = VISIBILITY_TIMEOUT_SECONDS + 2 + 10
# The ACL user of the last step: the broker's keys only, and the commands of a list queue.
ACL_RULES = ["resetkeys", "~celery*", "~_kombu.*", "~unacked*"]
ACL_RULES += ["-@all", "+@list", "+@hash", "+@sortedset", "+@connection"]
ACL_CHECKS = (("LLEN", "celery"), ("LLEN", "sessions"), ("FLUSHALL",))


def deploy_run_start(*, learner_id: str, late: str, stop: str, task) -> str:
    """Queue a deploy run with the learner's choices, each from a fixed list; the run id."""
    if late not in LATE_CHOICES:
        raise LabError(f"Choose which task is acks_late: one of {', '.join(LATE_CHOICES)}.")
    if stop not in STOPS:
        raise LabError(f"Choose how to stop the worker: one of {', '.join(STOPS)}.")
    return lab_run_start(
        learner_id=learner_id, lab=LAB, task=task, options={"late": late, "stop": stop}
    )


class _Run:
    """One run's clock and its events."""

    def __init__(self, *, learner_id: str, run_id: str) -> None:
        self.learner_id, self.run_id = learner_id, run_id
        self.started = time.monotonic()
        self.wall = time.time()
        self.log_read = 0

    def ms(self, wall: float | None = None) -> int:
        if wall is not None:
            return round((wall - self.wall) * 1000)
        return round((time.monotonic() - self.started) * 1000)

    def publish(self, kind: str, **fields) -> None:
        event = {"run": self.run_id, "lab": LAB, "kind": kind, **fields}
        event_publish(learner_id=self.learner_id, lab=LAB, event=event)

    def step(self, what: str, **fields) -> None:
        self.publish("step", what=what, t=self.ms(), **fields)

    def log(self, client: redis.Redis) -> list[dict]:
        """The program's ``log`` lines not read yet, published as one event."""
        lines = client.lrange("log", self.log_read, -1)
        self.log_read += len(lines)
        entries = []
        for raw in lines:
            line = json.loads(raw)
            who = "old" if line["worker"].startswith("old@") else "new"
            entry = {"task": line["task"], "event": line["event"], "worker": who}
            entries.append(entry | {"t": self.ms(line["t"]), "redelivered": line["redelivered"]})
        if entries:
            self.publish("log", entries=entries)
        return entries


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _message_task(message: dict, ids: dict[str, str]) -> tuple[str, bool]:
    """Which of the run's tasks a message in Redis is, and whether it was delivered before."""
    headers = message.get("headers", {})
    return ids.get(headers.get("id"), ""), bool(headers.get("redelivered"))


def _snapshot(run: _Run, client: redis.Redis, ids: dict[str, str]) -> set[str]:
    """Publish what Redis holds with no worker running; the tasks it holds."""
    queue = [_message_task(json.loads(raw), ids) for raw in client.lrange("celery", 0, -1)]
    delivered = dict(client.zrange("unacked_index", 0, -1, withscores=True))
    unacked, back_at = [], {}
    for tag, raw in client.hgetall("unacked").items():
        name, _ = _message_task(json.loads(raw)[0], ids)  # [message, exchange, routing key]
        unacked.append(name)
        if tag in delivered:
            back_at[name] = run.ms(delivered[tag] + VISIBILITY_TIMEOUT_SECONDS)
    run.step(
        "snapshot",
        queue=[name for name, _ in reversed(queue)],  # the next one to run first
        redelivered=[name for name, again in queue if again],
        unacked=sorted(unacked),
        back_at=back_at,
    )
    return {name for name, _ in queue} | set(unacked)


def _acl_checks(url: str) -> list[dict]:
    admin = redis.Redis.from_url(url)
    admin.execute_command("ACL", "SETUSER", "app", "on", ">lab-password", *ACL_RULES)
    user = redis.Redis.from_url(url, username="app", password="lab-password")  # noqa: S106
    checks = []
    for command in ACL_CHECKS:
        try:
            answer, refused = repr(user.execute_command(*command)), False
        except redis.exceptions.NoPermissionError as error:
            answer, refused = f"NOPERM {error}", True
        checks.append({"command": " ".join(command), "answer": answer[:200], "refused": refused})
    return checks


def deploy_run_execute(*, learner_id: str, run_id: str, late: str, stop: str, worker: str) -> dict:
    """The whole run, every step published as it happens; everything it started is killed."""
    run = _Run(learner_id=learner_id, run_id=run_id)
    run.publish("started", worker=worker)
    try:
        with tempfile.TemporaryDirectory(prefix="deploy-lab-") as folder:
            workdir = Path(folder)
            (workdir / "tasks.py").write_text(PROGRAM.read_text())
            result = _execute(run, workdir=workdir, late=late, stop=stop)
    except (
        SandboxFailed,
        OperationalError,
        redis.RedisError,
        OSError,
        ValueError,
        KeyError,
    ) as error:
        run.publish("failed", error=str(error)[:600])
        return {"failed": str(error)[:600]}
    run.publish("succeeded", result=result)
    return result


def _execute(run: _Run, *, workdir: Path, late: str, stop: str) -> dict:
    with private_redis(workdir=workdir) as server:
        client = redis.Redis.from_url(server.url)
        run.step("redis")
        sender = Celery(broker=server.url, set_as_current=False)
        try:
            with private_worker(
                workdir=workdir, redis_url=server.url, options=WORKER_OPTIONS, hostname="old@%h"
            ) as old:
                run.step("old-up")
                ids = {}
                for name in TASKS:
                    task = "tasks.step_late" if name == late else "tasks.step"
                    ids[sender.send_task(task, args=[name]).id] = name
                run.step("sent")
                if not _wait(lambda: run.log(client), FIRST_TASK_SECONDS):
                    raise SandboxFailed("The old worker did not start task A in time.")
                time.sleep(STOP_AFTER_SECONDS)  # the stop lands in the middle of A
                run.step("stop", signal=STOPS[stop][1])
                if stop == "kill":
                    old.kill()  # the worker and its pool process, as a crash would
                    code = -signal.SIGKILL
                else:
                    old.signal(SIGNALS[stop])
                    code = old.wait(EXIT_SECONDS)
                    if code is None:
                        raise SandboxFailed(f"The old worker had not exited {EXIT_SECONDS} s on.")
                run.step("old-exited", code=code)
                run.log(client)
            expected = _snapshot(run, client, ids)
            with private_worker(
                workdir=workdir, redis_url=server.url, options=NEW_WORKER_OPTIONS, hostname="new@%h"
            ):
                run.step("new-up")
                done = set()

                def drained() -> bool:
                    done.update(e["task"] for e in run.log(client) if e["event"] == "finished")
                    return expected <= done

                _wait(drained, DRAIN_SECONDS)
            run.step("acl", checks=_acl_checks(server.url))
        finally:
            sender.close()
    return {"late": late, "stop": stop}
