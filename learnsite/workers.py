"""The site's Celery workers: which queues there are, which pool and how many slots each one's
worker runs, and which tasks go where. The one place that says so: the settings route tasks
from it (``task_routes``), the Procfile and the test stack start its workers
(``python -m learnsite.workers <queue>``), and the lab pages show it to the learner.

Why these three (README, "Workers, queues and pools"): a task that sleeps or waits on the
network holds its pool slot all the same, so waiting work goes to threads, many at once, and
the few CPU-bound tasks, and the labs that teach the prefork pool, to a small prefork pool. The
long lab tasks get a queue and worker of their own, so that they cannot hold every slot of the
short ones.
"""

import os
import sys
from dataclasses import dataclass

DEFAULT_QUEUE = "celery"


@dataclass(frozen=True)
class Queue:
    """A queue, the one worker that consumes it, and what a learner may keep on it."""

    name: str
    pool: str  # the worker's -P
    concurrency: int  # its -c: tasks it runs at once
    tasks: tuple[str, ...]  # the task names routed here (the default queue takes the rest)
    per_learner: int  # a learner's runs queued or running here at once
    max_depth: int  # past this many messages waiting in its list, no new run is queued
    purpose: str

    def argv(self) -> list[str]:
        """The command that starts this queue's worker (celery's own options may follow)."""
        return [
            "celery", "-A", "learnsite", "worker", "--queues", self.name,
            "--pool", self.pool, "--concurrency", str(self.concurrency),
            "--hostname", f"{self.name}@%h", "--loglevel", "INFO",
        ]  # fmt: skip


QUEUES = {
    queue.name: queue
    for queue in (
        Queue(
            name=DEFAULT_QUEUE,
            pool="prefork",
            concurrency=2,
            tasks=(),
            per_learner=3,
            max_depth=200,
            purpose="CPU work, and the labs that teach the prefork pool: lifecycle, broker",
        ),
        Queue(
            name="labs",
            pool="threads",
            # A class of 200 pressing within 5 s is about 40 two-second runs a second: 96 at
            # once keep up (bench/class_clicks.py; 32 left a queue, p95 4x a lone run). Under
            # the 100 connections of the process's redis-py pool, which every run publishes on.
            concurrency=96,
            tasks=("labs.ping_worker", "labs.send_email"),
            per_learner=3,
            max_depth=200,
            purpose="short lab tasks that sleep or wait on the network",
        ),
        Queue(
            name="labs-long",
            pool="threads",
            concurrency=8,
            tasks=(
                "labs.pubsub_subscriber",
                "labs.listen_trap",
                "labs.routing_run",
                "labs.pools_run",
                "labs.watch_run",
                "labs.failure_run",
                "labs.deploy_run",
            ),
            per_learner=1,
            max_depth=50,
            purpose="long lab tasks: the Python subscriber, sandboxes, private Redis and workers",
        ),
    )
}


def task_routes() -> dict[str, dict[str, str]]:
    """Celery's ``task_routes``: each task named by a queue, to that queue."""
    return {task: {"queue": queue.name} for queue in QUEUES.values() for task in queue.tasks}


def queue_of(task_name: str) -> Queue:
    """The queue ``task_name`` is routed to."""
    return next((q for q in QUEUES.values() if task_name in q.tasks), QUEUES[DEFAULT_QUEUE])


def main(argv: list[str]) -> None:
    """``python -m learnsite.workers <queue> [celery worker options]``: become that queue's
    worker; options given here come after the layout's, so they win (``--hostname``, say)."""
    if not argv or argv[0] not in QUEUES:
        sys.exit(f"usage: python -m learnsite.workers {{{','.join(QUEUES)}}} [celery options]")
    command = [sys.executable, "-m", *QUEUES[argv[0]].argv(), *argv[1:]]
    # Replaced by the worker, not its parent: honcho's (or systemd's) signals reach celery.
    os.execv(sys.executable, command)  # noqa: S606 (a fixed command, no shell)


if __name__ == "__main__":
    main(sys.argv[1:])
