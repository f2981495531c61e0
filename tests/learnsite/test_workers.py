"""The worker layout (learnsite/workers.py) is the one `make run` starts and the one tasks are
routed by."""

import os
import re
import subprocess
from pathlib import Path

from learnsite.celery import app as celery_app
from learnsite.workers import DEFAULT_QUEUE, QUEUES, queue_of

ROOT = Path(__file__).resolve().parent.parent.parent


def make_variable(name: str) -> list[str]:
    """A variable of the Makefile as make expands it (with no REDIS_URL or DATABASE_URL set)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "print-%: ; @echo $($*)",
         f"print-{name}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return printed.split()


def test_make_run_and_make_serve_start_one_worker_for_each_queue():
    entries = (line for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)
    procfile = dict(line.split(": ", 1) for line in entries if not line.startswith("#"))
    started = {
        match[1]: name
        for name, command in procfile.items()
        if (match := re.fullmatch(r"python -m learnsite\.workers (\S+)", command))
    }
    assert set(started) == set(QUEUES)
    for target in ("PROCESSES", "SERVE_PROCESSES"):
        assert set(started.values()) <= set(make_variable(target)), target


def test_every_routed_task_exists_and_goes_to_its_queue_and_the_rest_to_the_default():
    def routed_to(task: str) -> str:
        return celery_app.amqp.router.route({}, task)["queue"].name

    for queue in QUEUES.values():
        for task in queue.tasks:
            assert task in celery_app.tasks
            assert routed_to(task) == queue.name == queue_of(task).name
    for task in ("labs.lifecycle_task", "labs.broker_specimen", "quiz.question_stats_refresh"):
        assert routed_to(task) == DEFAULT_QUEUE == queue_of(task).name
