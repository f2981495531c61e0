"""The worker layout (learnsite/workers.py) is the one `make run` starts and the one tasks are
routed by."""

import re
from pathlib import Path

from learnsite.celery import app as celery_app
from learnsite.workers import DEFAULT_QUEUE, QUEUES, queue_of

ROOT = Path(__file__).resolve().parent.parent.parent


def test_make_run_starts_one_worker_for_each_queue():
    procfile = dict(
        line.split(": ", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    started = {
        match[1]: name
        for name, command in procfile.items()
        if (match := re.fullmatch(r"python -m learnsite\.workers (\S+)", command))
    }
    assert set(started) == set(QUEUES)
    makefile = (ROOT / "Makefile").read_text()
    processes = re.search(r"^PROCESSES := .*$", makefile, re.MULTILINE)[0]
    # `make run` (and `make serve`) start every Procfile entry whose name starts with "worker".
    assert " $(WORKERS) " in f"{processes} "
    assert all(name.startswith("worker") for name in started.values())


def test_every_routed_task_exists_and_goes_to_its_queue_and_the_rest_to_the_default():
    def routed_to(task: str) -> str:
        return celery_app.amqp.router.route({}, task)["queue"].name

    for queue in QUEUES.values():
        for task in queue.tasks:
            assert task in celery_app.tasks
            assert routed_to(task) == queue.name == queue_of(task).name
    for task in ("labs.lifecycle_task", "labs.broker_specimen", "quiz.question_stats_refresh"):
        assert routed_to(task) == DEFAULT_QUEUE == queue_of(task).name
