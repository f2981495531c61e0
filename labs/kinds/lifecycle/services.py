"""The lifecycle lab's work: starting and cancelling runs (web side), the tasks' bodies (worker
side), and publishing each state a task goes through to the learner's events.

The task reports PROGRESS (also stored with ``update_state``) and RETRY itself. A retry is
reported before ``self.retry()`` sends the new message, because that message is RECEIVED at
once: the ``task_retry`` signal only fires afterwards and would come second. The other states
come from the worker's signals (``signals``).
"""

import time
from dataclasses import dataclass
from typing import ClassVar

from celery import chain, group
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from labs.events import event_publish, events_read
from labs.limits import learner_allows
from labs.services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited, lab_run_start
from learnsite.celery import app as celery_app

from .fold import BEHAVIOURS, CANVAS_SIZE, LAB, SHAPES, LifecycleFold, LifecycleRun

# The lab's tasks (labs/kinds/lifecycle/tasks.py), sent here by name: the tasks call this
# module, so it does not import them.
TASK_NAME = "labs.lifecycle_task"
STEP_TASK_NAME = "labs.lifecycle_step"
TASK_NAMES = {TASK_NAME, STEP_TASK_NAME}

STEPS = 5
STEP_SECONDS = 0.3  # stands in for real work, so that each state can be watched
CANVAS_STEPS = 3
# An overrunning task would work this many steps, far past its soft time limit.
OVERRUN_STEPS = 40
# A failing attempt fails at this step, after reporting the steps before it.
FAIL_AT_STEP = 2
# The first retry waits this long; each further one twice as long as the one before.
RETRY_FIRST_COUNTDOWN_SECONDS = 1
CANCELS_PER_MINUTE = 10


class SimulatedFailure(Exception):
    """The failure a learner asked for."""


class RunNotFound(LabError):
    status = 404


# ---- Starting and cancelling runs (web side)


@dataclass(frozen=True)
class _Canvas:
    """A chain or group of lifecycle steps, started the way ``lab_run_start`` starts a task.

    Each member's task id is the run's task id with ``-<node>`` appended, so the page can name
    the members before any of them has been sent (a chain sends each one when the one before it
    succeeds).
    """

    shape: str
    name: ClassVar[str] = STEP_TASK_NAME  # routed as its members are

    def apply_async(self, *, kwargs: dict, task_id: str, retry: bool) -> None:
        base = {"learner_id": kwargs["learner_id"], "run_id": kwargs["run_id"]}
        steps = [
            celery_app.signature(STEP_TASK_NAME, kwargs=base | {"node": node}, immutable=True).set(
                task_id=f"{task_id}-{node}"
            )
            for node in range(1, kwargs["size"] + 1)
        ]
        if self.shape == "chain":
            chain(steps).apply_async(retry=retry)
            return
        result = group(steps).apply_async(task_id=task_id, retry=retry)
        # A GroupResult subscribes this process to each member's result channel, to be told
        # when they finish; nobody here waits for them, so let those subscriptions go.
        for member in result.results:
            celery_app.backend.remove_pending_result(member)


def lifecycle_run_start(*, learner_id: str, behaviour: str) -> str:
    """Queue one lifecycle task that behaves as asked; returns the run id."""
    if behaviour not in BEHAVIOURS:
        raise LabError(f"Choose how the task behaves: one of {', '.join(BEHAVIOURS)}.")
    return lab_run_start(
        learner_id=learner_id,
        lab=LAB,
        task=celery_app.signature(TASK_NAME),
        options={"behaviour": behaviour},
    )


def lifecycle_canvas_start(*, learner_id: str, shape: str) -> str:
    """Queue a chain or a group of lifecycle steps as one run; returns the run id."""
    if shape not in SHAPES:
        raise LabError(f"Choose a chain or a group: one of {', '.join(SHAPES)}.")
    return lab_run_start(
        learner_id=learner_id,
        lab=LAB,
        task=_Canvas(shape),
        options={"shape": shape, "size": CANVAS_SIZE},
    )


def lifecycle_run_cancel(*, learner_id: str, run_id: str) -> LifecycleRun:
    """Revoke the task of one of the learner's own runs.

    The task id comes from the learner's recorded events, never from the request, so nobody can
    revoke another learner's task. A running task is terminated (its pool process gets SIGTERM);
    one that has not started is only marked revoked, and the worker discards it when it comes.
    """
    try:
        # Each cancel is a revoke broadcast to every worker: only so many a minute.
        if not learner_allows(learner_id=learner_id, action=f"{LAB}-cancel",
                              per_minute=CANCELS_PER_MINUTE):  # fmt: skip
            raise RateLimited(
                f"You asked to cancel {CANCELS_PER_MINUTE} times in the last minute, the "
                "limit: watch your runs stop, then try again in a minute."
            )
        events = events_read(learner_id=learner_id, lab=LAB)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    own = [(i, e) for i, e in events if e.get("run") == run_id]
    runs = LifecycleFold.fold(own, now=time.time()) if run_id else []
    if not runs:
        raise RunNotFound("You have no such run to cancel.")
    run = runs[0]
    if run.shape:
        raise LabError("A chain or a group cannot be cancelled here: its tasks are short.")
    if run.finished:
        raise LabError(f"Run {run.id} has already finished ({run.state}): nothing to cancel.")
    terminate = run.running
    cancel = {"kind": "cancel", "run": run.id, "lab": LAB, "terminate": terminate}
    try:
        event_publish(learner_id=learner_id, lab=LAB, event=cancel)
        celery_app.control.revoke(run.task_id, terminate=terminate, signal="SIGTERM")
    except (RedisError, OSError, OperationalError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    return run


# ---- The work (worker side; the tasks in tasks.py call these)


def lifecycle_state_publish(*, learner_id: str, run_id: str, node: int | None = None,
                            state: str, task_id: str, **fields) -> None:  # fmt: skip
    """Report a state of a lifecycle task (or of member ``node`` of a canvas) to the learner."""
    event = {"kind": "state", "lab": LAB, "run": run_id, "state": state, "task_id": task_id}
    if node is not None:
        event["node"] = node
    event_publish(learner_id=learner_id, lab=LAB, event=event | fields)


def _progress(*, task, learner_id: str, run_id: str, node: int | None, step: int, of: int
              ) -> None:  # fmt: skip
    percent = round(step * 100 / of)
    task.update_state(state="PROGRESS", meta={"percent": percent, "step": step, "of": of})
    lifecycle_state_publish(
        learner_id=learner_id, run_id=run_id, node=node, state="PROGRESS",
        task_id=task.request.id, percent=percent, step=step, of=of,
    )  # fmt: skip


def _fail(*, task, learner_id: str, run_id: str, step: int) -> None:
    """Fail this attempt: retry later, with a longer countdown each time, or give up."""
    retries = task.request.retries
    attempt = retries + 1
    if retries >= task.max_retries:
        raise SimulatedFailure(
            f"failed on purpose at step {step} of attempt {attempt}, "
            f"with no retries left (max_retries={task.max_retries})"
        )
    countdown = RETRY_FIRST_COUNTDOWN_SECONDS * 2**retries
    error = SimulatedFailure(f"failed on purpose at step {step} of attempt {attempt}")
    lifecycle_state_publish(
        learner_id=learner_id, run_id=run_id, state="RETRY", task_id=task.request.id,
        error=str(error), countdown=countdown, attempt=attempt,
    )  # fmt: skip
    raise task.retry(exc=error, countdown=countdown)


def lifecycle_run_execute(*, task, learner_id: str, run_id: str, behaviour: str) -> dict:
    """The body of the lifecycle task: work in steps, reporting progress, and behave as asked."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}")
    attempt = task.request.retries + 1
    fails = behaviour == "always-fail" or (behaviour == "retry-once" and attempt == 1)
    steps = OVERRUN_STEPS if behaviour == "overrun" else STEPS
    for step in range(1, steps + 1):
        time.sleep(STEP_SECONDS)
        if fails and step == FAIL_AT_STEP:
            _fail(task=task, learner_id=learner_id, run_id=run_id, step=step)
        _progress(task=task, learner_id=learner_id, run_id=run_id, node=None, step=step, of=steps)
    return {"attempts": attempt, "worker": task.request.hostname}


def lifecycle_step_execute(*, task, learner_id: str, run_id: str, node: int) -> dict:
    """The body of one member of a chain or group: a few steps of work."""
    for step in range(1, CANVAS_STEPS + 1):
        time.sleep(STEP_SECONDS)
        _progress(task=task, learner_id=learner_id, run_id=run_id, node=node, step=step,
                  of=CANVAS_STEPS)  # fmt: skip
    return {"node": node, "worker": task.request.hostname}
