"""Three two-second tasks and one worker to stop mid-task: the deploy lab's program.

The lab (labs/kinds/deploy/services.py) copies this file into a folder of its own as
``tasks.py``, never imports it, and runs it on a Redis of the run's own. On your machine:

    celery -A tasks worker --pool prefork --concurrency 1     # the worker: note its pid
    python tasks.py A                                          # A, B, C: which is acks_late
    kill -TERM <pid>    # one second into A; or -QUIT (cold), or -KILL
    celery -A tasks worker --pool prefork --concurrency 1     # the new worker
    redis-cli LRANGE log 0 -1                                  # who ran what, and when
"""

import json
import os
import sys
import time

import redis
from celery import Celery

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
NAMES = ("A", "B", "C")

app = Celery("tasks", broker=REDIS_URL)
app.conf.update(
    # One slot (concurrency 1) and one unacknowledged message at a time: while a task
    # acknowledged at its start runs, the next waits reserved in the worker; while an
    # acks_late one runs, the others wait in Redis.
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    broker_transport_options={
        # A message taken and never acknowledged goes back on the queue 6 s after it was
        # taken (the default is one hour), looked for every second (the default is rarer).
        "visibility_timeout": 6,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
)
log = redis.Redis.from_url(REDIS_URL)


def note(request, name: str, event: str) -> None:
    """One line in the list ``log``: which worker did what to which task, and when."""
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    line = {"task": name, "event": event, "worker": request.hostname, "t": time.time()}
    log.rpush("log", json.dumps(line | {"redelivered": redelivered}))


@app.task(bind=True)
def step(self, name: str) -> None:
    note(self.request, name, "started")
    time.sleep(2)
    note(self.request, name, "finished")


@app.task(bind=True, acks_late=True)
def step_late(self, name: str) -> None:
    note(self.request, name, "started")
    time.sleep(2)
    note(self.request, name, "finished")


if __name__ == "__main__":
    late = sys.argv[1] if len(sys.argv) > 1 else "A"
    for name in NAMES:
        (step_late if name == late else step).delay(name)
