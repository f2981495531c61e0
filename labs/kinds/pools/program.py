"""Eight tasks on the pool of your choice, each noting when it starts and finishes, and where.

The "Worker pools" lab writes this file as tasks.py into a folder of its run's own, starts a
redis-server and ``celery -A tasks worker --pool <pool> --concurrency <n>`` there, and sends the
eight tasks. It is a plain Celery program, never imported by the site: to do the same at home,
with a Redis on localhost,

    celery -A tasks worker --pool threads --concurrency 8
    python tasks.py cpu      # or: python tasks.py io
"""

import hashlib
import json
import os
import sys
import threading
import time

import redis
from celery import Celery

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
app = Celery("tasks", broker=REDIS_URL)
r = redis.Redis.from_url(REDIS_URL)

TASKS = 8
SLEEP_SECONDS = 1.0  # the I/O-bound task: waiting on a network or a disk looks like this
ROUNDS = 400_000  # the CPU-bound task: about 0.15 s of CPU time here


def note(number: int, event: str, **more) -> None:
    """Append what happened, when and where, to the list "timeline"."""
    where = {"pid": os.getpid(), "thread": threading.current_thread().name}
    point = {"task": number, "event": event, "t": time.time(), **where, **more}
    r.rpush("timeline", json.dumps(point))


@app.task
def work(number: int, workload: str) -> None:
    note(number, "start")
    cpu = time.thread_time()  # the CPU time of this thread alone
    if workload == "io":
        time.sleep(SLEEP_SECONDS)
    else:
        digest = b"start"
        for _ in range(ROUNDS):
            # Python calls on 32 bytes at a time: they run only while this thread holds the GIL.
            digest = hashlib.sha256(digest).digest()
    note(number, "finish", cpu=time.thread_time() - cpu)


if __name__ == "__main__":
    workload = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    r.delete("timeline")
    sent = time.time()
    for number in range(1, TASKS + 1):
        work.delay(number, workload)
    finished, cpu = 0, 0.0
    while finished < TASKS:
        popped = r.blpop(["timeline"], timeout=1)  # under redis-py's 5 s socket timeout
        if popped is None:
            continue
        point = json.loads(popped[1])
        at, where = point["t"] - sent, f"{point['pid']} {point['thread']}"
        print(f"{at:6.2f} s  task {point['task']} {point['event']:6}  {where}")
        if point["event"] == "finish":
            finished, cpu = finished + 1, cpu + point["cpu"]
    print(f"{TASKS} tasks in {at:.2f} s, {cpu / at:.2f} cores busy on average")
