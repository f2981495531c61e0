"""The routing lab's work: a Redis and workers of the run's own, the plain program sending 4
slow then 2 fast tasks through them, and each task's steps streamed to the page.

A Celery task of the site (``routing_execute``, on the ``labs-long`` queue) copies
``program.py`` into a temporary folder as ``tasks.py``, starts a private redis-server and the
setup's workers from it (learnsite/sandbox.py), runs ``python tasks.py`` (or ``python tasks.py
routed``) and publishes each line it prints as a lab event. Everything it started is killed when
the program ends, or at PROGRAM_SECONDS. The site's own Redis holds only the events.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from labs.events import event_publish
from labs.services import LabError, lab_run_start
from learnsite.processes import die_with_parent
from learnsite.sandbox import SandboxFailed, private_redis, private_worker, process_kill

from .fold import SETUPS, STEPS, TASK_LABELS

LAB = "routing"
PROGRAM = Path(__file__).resolve().parent / "program.py"
# The program sends and waits about 6 s when routed; past this it is killed.
PROGRAM_SECONDS = 30
OUTPUT_LINES_KEPT = 5


@dataclass(frozen=True)
class Worker:
    queue: str
    slots: int

    @property
    def hostname(self) -> str:
        return f"{self.queue}@%h"

    def options(self) -> tuple[str, ...]:
        """As a learner types them after ``celery -A tasks worker``: the default queue needs no
        ``-Q``. (The lab adds ``--without-heartbeat``: it only starts faster.)"""
        queues = () if self.queue == "celery" else ("-Q", self.queue)
        return (*queues, "-P", "threads", "-c", str(self.slots), "-n", self.hostname)


@dataclass(frozen=True)
class Setup:
    label: str
    program_args: tuple[str, ...]
    workers: tuple[Worker, ...]

    @property
    def commands(self) -> list[str]:
        """The commands that run this setup at home, workers first."""
        workers = [f"celery -A tasks worker {' '.join(w.options())}" for w in self.workers]
        return [*workers, " ".join(("python tasks.py", *self.program_args))]


# The same two slots either way: one worker with two, or a worker with one on each queue.
SETUP_DETAILS = {
    "one-queue": Setup(SETUPS["one-queue"], (), (Worker("celery", 2),)),
    "routed": Setup(SETUPS["routed"], ("routed",), (Worker("slow", 1), Worker("fast", 1))),
}


def routing_run_start(*, learner_id: str, setup: str, task) -> str:
    """Queue a run of ``setup`` (one of SETUPS) for the learner; returns the run id."""
    if setup not in SETUP_DETAILS:
        names = " or ".join(f"“{label}”" for label in SETUPS.values())
        raise LabError(f"Choose a setup: {names}.")
    return lab_run_start(learner_id=learner_id, lab=LAB, task=task, options={"setup": setup})


def _task_event(raw: str) -> dict | None:
    """One line the program printed, as a ``task`` event with only the fields the page uses."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(line, dict) or line.get("task") not in TASK_LABELS:
        return None
    if line.get("step") not in STEPS or not isinstance(line.get("t"), int):
        return None
    event = {"kind": "task", "task": line["task"], "step": line["step"], "t": line["t"]}
    if isinstance(line.get("queue"), str):
        event["queue"] = line["queue"][:40]
    if isinstance(line.get("wait_ms"), int):
        event["wait_ms"] = line["wait_ms"]
    return event


def _program_run(*, workdir: Path, redis_url: str, args: tuple[str, ...], publish) -> list[str]:
    """Run ``python tasks.py *args`` to its end (killed at PROGRAM_SECONDS), publishing each task
    line it prints; returns what else it printed, the last few lines."""
    env = {"REDIS_URL": redis_url, "PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}
    process = subprocess.Popen(  # noqa: S603 (our program, fixed arguments)
        [sys.executable, "tasks.py", *args],
        cwd=workdir,
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
    timer = threading.Timer(PROGRAM_SECONDS, process_kill, args=(process,))
    timer.start()
    other: list[str] = []
    try:
        for raw in process.stdout:
            event = _task_event(raw)
            if event is not None:
                publish(event)
            elif raw.strip():
                other = [*other, raw.rstrip()[:300]][-OUTPUT_LINES_KEPT:]
    finally:
        timer.cancel()
        process_kill(process)
    return other


def routing_execute(*, learner_id: str, run_id: str, setup: str, worker: str) -> dict:
    """Start the run's Redis and workers, run the program through them, then kill them all."""

    def publish(event: dict) -> None:
        event_publish(learner_id=learner_id, lab=LAB, event={"run": run_id, "lab": LAB, **event})

    publish({"kind": "started", "worker": worker})
    details = SETUP_DETAILS[setup]
    finished: set[str] = set()

    def publish_task(event: dict) -> None:
        if event["step"] == "finished":
            finished.add(event["task"])
        publish(event)

    with tempfile.TemporaryDirectory(prefix="routing-") as folder, contextlib.ExitStack() as run:
        workdir = Path(folder)
        shutil.copy(PROGRAM, workdir / "tasks.py")
        try:
            redis = run.enter_context(private_redis(workdir=workdir))
            for each in details.workers:
                options = (*each.options(), "--without-heartbeat")
                run.enter_context(
                    private_worker(
                        workdir=workdir,
                        redis_url=redis.url,
                        options=options,
                        hostname=each.hostname,
                    )
                )
        except SandboxFailed as error:
            publish({"kind": "failed", "error": str(error)[:500]})
            return {"failed": "sandbox"}
        workers = [{"queue": w.queue, "slots": w.slots} for w in details.workers]
        publish({"kind": "ready", "workers": workers})
        other = _program_run(
            workdir=workdir, redis_url=redis.url, args=details.program_args, publish=publish_task
        )
    if finished != set(TASK_LABELS):
        error = " ".join(["The program ended before every task had finished.", *other[-3:]])
        publish({"kind": "failed", "error": error})
        return {"failed": "program"}
    publish({"kind": "succeeded"})
    return {"setup": setup, "worker": worker}
