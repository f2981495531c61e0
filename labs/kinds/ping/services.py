"""Ping the worker: a task that does its work in steps and reports each one."""

import os
import time

from labs.events import event_publish

from .fold import PING_STEPS

PING_STEP_SECONDS = 0.4


def lab_ping_execute(*, learner_id: str, run_id: str, worker: str) -> dict:
    """The worker's side of "Ping the worker": report each step, then who did the work."""
    started = time.monotonic()
    base = {"run": run_id, "lab": "ping"}
    event_publish(
        learner_id=learner_id, lab="ping", event={**base, "kind": "started", "worker": worker}
    )
    for step in range(1, PING_STEPS + 1):
        time.sleep(PING_STEP_SECONDS)  # stands in for real work, so progress can be watched
        event = {"kind": "progress", "step": step, "of": PING_STEPS}
        event_publish(
            learner_id=learner_id,
            lab="ping",
            event={**base, **event, "percent": round(step * 100 / PING_STEPS)},
        )
    result = {
        "worker": worker,
        "pid": os.getpid(),
        "worked_ms": round((time.monotonic() - started) * 1000),
    }
    event = {**base, "kind": "succeeded", "result": result}
    event_publish(learner_id=learner_id, lab="ping", event=event)
    return result
