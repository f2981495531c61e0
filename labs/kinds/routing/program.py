"""The plain Celery program of the routing lab, as a learner runs it at home: a slow task and a
fast one. ``python tasks.py`` sends 4 slow then 2 fast to the default queue, ``celery``;
``python tasks.py routed`` routes slow to the queue ``slow`` and fast to ``fast``. It prints
each task's steps as JSON lines: queued, started, finished (with its queue and its wait).

The lab copies it into a run's folder as ``tasks.py`` and starts the workers from it; it
imports nothing of the site."""

import json
import os
import sys
import time

from celery import Celery

URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
app = Celery("tasks", broker=URL, backend=URL)
app.conf.task_track_started = True  # the worker records STARTED: the sender sees the wait end


@app.task(bind=True)
def slow(self):
    started = time.time()
    time.sleep(1.5)  # a report, a resize, a slow API
    return {"started": started, "queue": self.request.delivery_info["routing_key"]}


@app.task(bind=True)
def fast(self):
    return {"started": time.time(), "queue": self.request.delivery_info["routing_key"]}


def say(begin, task, step, **more):
    ms = round((time.time() - begin) * 1000)
    print(json.dumps({"task": task, "step": step, "t": ms, **more}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["routed"]:  # the sender decides where each message goes
        app.conf.task_routes = {"tasks.slow": {"queue": "slow"}, "tasks.fast": {"queue": "fast"}}
    sent = []  # (label, result, when it was queued)
    for name, task in [("slow", slow)] * 4 + [("fast", fast)] * 2:
        label = f"{name} {sum(1 for other in sent if other[0].startswith(name)) + 1}"
        sent.append((label, task.delay(), time.time()))
        begin = sent[0][2]  # times count from the first task queued
        say(begin, label, "queued")
    seen = set()
    while len(seen) < 2 * len(sent):
        for label, result, queued in sent:
            state = result.state
            if state in ("STARTED", "SUCCESS") and (label, "started") not in seen:
                seen.add((label, "started"))
                say(begin, label, "started")
            if state == "SUCCESS" and (label, "finished") not in seen:
                seen.add((label, "finished"))
                done = result.get()
                wait_ms = round((done["started"] - queued) * 1000)
                say(begin, label, "finished", queue=done["queue"], wait_ms=wait_ms)
        time.sleep(0.05)
