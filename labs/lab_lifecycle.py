"""The lab "A task's whole life": one Celery task through every state it can take.

The learner chooses how the task behaves (succeed; fail once, then succeed on retry; always
fail; overrun its time limit), or starts a chain or a group of three small tasks, and can cancel
a running task. Every state change becomes a lab event, so the page follows it live:

- the worker's signals report what Celery does to the task: RECEIVED (``task_received``, in the
  worker's main process), STARTED (``task_prerun``, in the pool process), SUCCESS, FAILURE and
  REVOKED (``task_success``, ``task_failure``, ``task_revoked``);
- the task itself reports PROGRESS (also stored with ``update_state``) and RETRY. A retry is
  reported before ``self.retry()`` sends the new message, because that message is RECEIVED at
  once: the ``task_retry`` signal only fires afterwards and would come second.

The signal handlers are connected when this module is imported; ``labs.tasks`` imports it, so
every worker has them. They report only the tasks of this lab (by task name).
"""

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery import chain, group, signals
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from learners.identity import learner_id_for
from learnsite.celery import app as celery_app
from learnsite.htmx import HtmxHttpRequest

from . import tasks
from .events import event_publish, events_read
from .predictions import PredictionPairing, Runs
from .runs import RUNS_SHOWN, WAITING_HINT_AFTER_SECONDS
from .services import BROKER_DOWN, BrokerUnavailable, LabError, lab_run_start

log = logging.getLogger(__name__)

LAB = "lifecycle"

# Predict, then observe: how the next single-task run ends.
OUTCOMES = {
    "success": "SUCCESS at the first try",
    "retry-success": "RETRY, then SUCCESS",
    "failure": "FAILURE",
    "revoked": "REVOKED",
}
TASK_NAMES = {"labs.lifecycle_task", "labs.lifecycle_step"}

BEHAVIOURS = {
    "succeed": "Succeed",
    "retry-once": "Fail once, then succeed on retry",
    "always-fail": "Always fail",
    "overrun": "Overrun its time limit",
}
SHAPES = {"chain": "Chain of 3", "group": "Group of 3"}
CANVAS_SIZE = 3

STEPS = 5
STEP_SECONDS = 0.3  # stands in for real work, so that each state can be watched
CANVAS_STEPS = 3
# An overrunning task would work this many steps, far past its soft time limit.
OVERRUN_STEPS = 40
# A failing attempt fails at this step, after reporting the steps before it.
FAIL_AT_STEP = 2
# The first retry waits this long; each further one twice as long as the one before.
RETRY_FIRST_COUNTDOWN_SECONDS = 1

STATES = ("PENDING", "RECEIVED", "STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE", "REVOKED")
FINISHED = {"SUCCESS", "FAILURE", "REVOKED"}
# Revoking these needs terminate=True: the task is already running in a pool process.
RUNNING = {"STARTED", "PROGRESS"}
NOTES = {
    "PENDING": "queued on the broker",
    "RECEIVED": "a worker took the message",
    "STARTED": "the task began",
    "PROGRESS": "the task reported progress",
    "RETRY": "the attempt failed; a retry is scheduled",
    "SUCCESS": "finished; the result is stored",
    "FAILURE": "failed for good",
    "REVOKED": "revoked",
    "CANCEL": "you asked to cancel",
}


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

    def apply_async(self, *, kwargs: dict, task_id: str, retry: bool) -> None:
        base = {"learner_id": kwargs["learner_id"], "run_id": kwargs["run_id"]}
        steps = [
            tasks.lifecycle_step.si(**base, node=node).set(task_id=f"{task_id}-{node}")
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


def lab_lifecycle_start(*, learner_id: str, behaviour: str) -> str:
    """Queue one lifecycle task that behaves as asked; returns the run id."""
    if behaviour not in BEHAVIOURS:
        raise LabError(f"Choose how the task behaves: one of {', '.join(BEHAVIOURS)}.")
    return lab_run_start(
        learner_id=learner_id,
        lab=LAB,
        task=tasks.lifecycle_task,
        options={"behaviour": behaviour},
    )


def lab_lifecycle_canvas_start(*, learner_id: str, shape: str) -> str:
    """Queue a chain or a group of lifecycle steps as one run; returns the run id."""
    if shape not in SHAPES:
        raise LabError(f"Choose a chain or a group: one of {', '.join(SHAPES)}.")
    return lab_run_start(
        learner_id=learner_id,
        lab=LAB,
        task=_Canvas(shape),
        options={"shape": shape, "size": CANVAS_SIZE},
    )


def lab_lifecycle_cancel(*, learner_id: str, run_id: str) -> "LifecycleRun":
    """Revoke the task of one of the learner's own runs.

    The task id comes from the learner's recorded events, never from the request, so nobody can
    revoke another learner's task. A running task is terminated (its pool process gets SIGTERM);
    one that has not started is only marked revoked, and the worker discards it when it comes.
    """
    try:
        events = events_read(learner_id=learner_id, lab=LAB)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    own = [(i, e) for i, e in events if e.get("run") == run_id]
    runs = lifecycle_fold(own, now=time.time()) if run_id else []
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


# ---- The work (worker side; the tasks in labs/tasks.py call these)


def lab_lifecycle_state_publish(*, learner_id: str, run_id: str, node: int | None = None,
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
    lab_lifecycle_state_publish(
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
    lab_lifecycle_state_publish(
        learner_id=learner_id, run_id=run_id, state="RETRY", task_id=task.request.id,
        error=str(error), countdown=countdown, attempt=attempt,
    )  # fmt: skip
    raise task.retry(exc=error, countdown=countdown)


def lab_lifecycle_execute(*, task, learner_id: str, run_id: str, behaviour: str) -> dict:
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


def lab_lifecycle_step_execute(*, task, learner_id: str, run_id: str, node: int) -> dict:
    """The body of one member of a chain or group: a few steps of work."""
    for step in range(1, CANVAS_STEPS + 1):
        time.sleep(STEP_SECONDS)
        _progress(task=task, learner_id=learner_id, run_id=run_id, node=node, step=step,
                  of=CANVAS_STEPS)  # fmt: skip
    return {"node": node, "worker": task.request.hostname}


# ---- Celery signals: what the worker does to the lab's tasks


def _report(*, name: str, task_kwargs: dict | None, state: str, task_id: str, **fields) -> None:
    """Publish ``state`` for a task of this lab; the tasks of other labs are not reported."""
    if name not in TASK_NAMES or not task_kwargs or "learner_id" not in task_kwargs:
        return
    try:
        lab_lifecycle_state_publish(
            learner_id=task_kwargs["learner_id"], run_id=task_kwargs["run_id"],
            node=task_kwargs.get("node"), state=state, task_id=task_id, **fields,
        )  # fmt: skip
    except (RedisError, OSError) as error:  # the worker goes on; only the page misses a step
        log.warning("could not report %s of task %s: %s", state, task_id, error)


@signals.task_received.connect(dispatch_uid="labs.lifecycle.received")
def _on_received(sender=None, request=None, **_) -> None:
    _report(
        name=request.name,
        task_kwargs=request.kwargs,
        state="RECEIVED",
        task_id=request.id,
        worker=request.hostname,
        redelivered=bool(request.delivery_info.get("redelivered")),
        eta=request.eta.timestamp() if request.eta else None,
    )


@signals.task_prerun.connect(dispatch_uid="labs.lifecycle.prerun")
def _on_prerun(sender=None, task_id=None, task=None, kwargs=None, **_) -> None:
    _report(
        name=task.name,
        task_kwargs=kwargs,
        state="STARTED",
        task_id=task_id,
        worker=task.request.hostname,
        pid=os.getpid(),  # the pool process that runs it
        attempt=task.request.retries + 1,
    )


@signals.task_success.connect(dispatch_uid="labs.lifecycle.success")
def _on_success(sender=None, result=None, **_) -> None:
    _report(
        name=sender.name, task_kwargs=sender.request.kwargs, state="SUCCESS",
        task_id=sender.request.id,
    )  # fmt: skip


@signals.task_failure.connect(dispatch_uid="labs.lifecycle.failure")
def _on_failure(sender=None, task_id=None, exception=None, kwargs=None, **_) -> None:
    if isinstance(exception, SoftTimeLimitExceeded):
        error = (
            f"time limit: still running after its soft time limit of {sender.soft_time_limit} s, "
            "so Celery raised SoftTimeLimitExceeded inside it"
        )
    elif isinstance(exception, TimeLimitExceeded):
        error = (
            f"time limit: still running after its hard time limit of {sender.time_limit} s, "
            "so the worker killed its process"
        )
    else:
        error = f"{type(exception).__name__}: {exception}"
    _report(name=sender.name, task_kwargs=kwargs, state="FAILURE", task_id=task_id, error=error)


@signals.task_revoked.connect(dispatch_uid="labs.lifecycle.revoked")
def _on_revoked(sender=None, request=None, terminated=False, signum=None, expired=False,
                **_) -> None:  # fmt: skip
    if terminated:
        name = signal.Signals(int(signum)).name if str(signum).isdigit() else signum
        reason = f"terminated while running: its pool process got {name}"
    elif expired:
        reason = "expired before a worker ran it"
    else:
        reason = "discarded by the worker before it ran"
    _report(
        name=sender.name, task_kwargs=request.kwargs, state="REVOKED", task_id=request.id,
        reason=reason,
    )  # fmt: skip


# ---- The fold: runs as the learner sees them


@dataclass
class TimelineEntry:
    state: str  # a Celery state, or CANCEL for the learner's request
    at: float
    offset_ms: int
    detail: str = ""
    node: int | None = None

    @property
    def note(self) -> str:
        return NOTES[self.state]

    @property
    def iso(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds")

    @property
    def clock(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%H:%M:%S.%f")[:-3]


@dataclass
class CanvasNode:
    number: int
    state: str = "PENDING"
    percent: int = 0
    attempts: int = 0
    task_id: str = ""


@dataclass
class LifecycleRun:
    id: str
    queued_at: float
    lab: str = LAB
    task_id: str = ""
    options: dict = field(default_factory=dict)
    state: str = "PENDING"
    percent: int = 0
    attempts: int = 0
    timeline: list[TimelineEntry] = field(default_factory=list)
    nodes: list[CanvasNode] = field(default_factory=list)
    error: str = ""
    cancel_requested: bool = False
    # Still pending after WAITING_HINT_AFTER_SECONDS: the page explains why.
    waiting: bool = False

    @property
    def status(self) -> str:
        """The status the lab framework knows: "queued" while no worker has the task."""
        return "queued" if self.state == "PENDING" else self.state.lower()

    @property
    def shape(self) -> str:
        return self.options.get("shape", "")

    @property
    def title(self) -> str:
        if self.shape:
            return SHAPES.get(self.shape, self.shape)
        return BEHAVIOURS.get(self.options.get("behaviour", ""), "Task")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def cancellable(self) -> bool:
        return not self.shape and not self.finished and not self.cancel_requested


def _detail(event: dict) -> str:
    state = event["state"]
    if state == "RECEIVED":
        text = f"by {event.get('worker')}"
        if event.get("redelivered"):
            text += "; redelivered: the worker that had it was lost before acknowledging it"
        if event.get("eta"):
            text += "; the worker holds it until its countdown ends"
        return text
    if state == "STARTED":
        where = f"in process {event.get('pid')} of {event.get('worker')}"
        return f"attempt {event.get('attempt')}, {where}"
    if state == "PROGRESS":
        return f"{event.get('percent')}% (step {event.get('step')} of {event.get('of')})"
    if state == "RETRY":
        return f"{event.get('error')}; next attempt in {event.get('countdown')} s"
    if state == "FAILURE":
        return event.get("error", "")
    if state == "REVOKED":
        return event.get("reason", "")
    return ""


def _apply(target: "LifecycleRun | CanvasNode", event: dict) -> None:
    state = event["state"]
    # A finished task moves on only if its message is delivered again; anything else that
    # arrives late (progress sent just before a terminate) is shown, but changes nothing.
    if target.state in FINISHED and state != "RECEIVED":
        return
    target.state = state
    if state == "STARTED":
        target.attempts += 1
        target.percent = 0
    elif state == "PROGRESS":
        target.percent = int(event.get("percent", target.percent))
    elif state == "SUCCESS":
        target.percent = 100


def _canvas_state(nodes: list[CanvasNode]) -> str:
    states = {node.state for node in nodes}
    for final in ("FAILURE", "REVOKED"):
        if final in states:
            return final
    if states == {"SUCCESS"}:
        return "SUCCESS"
    return "PENDING" if states == {"PENDING"} else "STARTED"


def lifecycle_observed(run: LifecycleRun) -> str | None:
    """How a single task's run ended; None for a chain or a group, or a run not over."""
    if run.shape:
        return None
    if run.state == "SUCCESS":
        retried = any(entry.state == "RETRY" for entry in run.timeline)
        return "retry-success" if retried else "success"
    return {"FAILURE": "failure", "REVOKED": "revoked"}.get(run.state)


def lifecycle_fold(events: list[tuple[str, dict]], *, now: float) -> Runs:
    """The learner's most recent lifecycle runs as of ``now``, newest first."""
    runs: dict[str, LifecycleRun] = {}
    pairing = PredictionPairing()
    for _event_id, event in events:
        kind, run_id = event.get("kind"), event.get("run")
        if pairing.take(event):
            continue
        if kind == "queued" and run_id and run_id not in runs:
            run = runs[run_id] = LifecycleRun(
                id=run_id,
                queued_at=event["at"],
                task_id=event.get("task_id", ""),
                options=event.get("options", {}),
            )
            if run.shape:
                size = int(run.options.get("size", CANVAS_SIZE))
                run.nodes = [
                    CanvasNode(number=n, task_id=f"{run.task_id}-{n}") for n in range(1, size + 1)
                ]
            run.timeline.append(TimelineEntry("PENDING", event["at"], 0))
            pairing.seen(run)
            continue
        run = runs.get(run_id)
        if run is None:  # its "queued" event is older than the stream keeps
            continue
        offset_ms = round((event["at"] - run.queued_at) * 1000)
        if kind == "cancel":
            run.cancel_requested = True
            how = "revoke(terminate=True)" if event.get("terminate") else "revoke()"
            run.timeline.append(TimelineEntry("CANCEL", event["at"], offset_ms, how))
            continue
        if kind != "state" or event.get("state") not in STATES:
            continue
        node = event.get("node")
        if run.nodes:
            if not isinstance(node, int) or not 1 <= node <= len(run.nodes):
                continue
            _apply(run.nodes[node - 1], event)
        else:
            _apply(run, event)
            if event["state"] == "FAILURE":
                run.error = event.get("error", "")
        entry = TimelineEntry(event["state"], event["at"], offset_ms, _detail(event), node)
        run.timeline.append(entry)
        pairing.seen(run)
    for run in runs.values():
        if run.nodes:
            run.state = _canvas_state(run.nodes)
            run.percent = sum(n.percent for n in run.nodes) // len(run.nodes)
        run.waiting = run.state == "PENDING" and now - run.queued_at >= WAITING_HINT_AFTER_SECONDS
    shown = Runs(sorted(runs.values(), key=lambda run: run.queued_at, reverse=True)[:RUNS_SHOWN])
    shown.prediction = pairing.latest
    return shown


# ---- Views


def _lab_views():
    # labs.views imports the registry, and the registry imports this module's fold, so the
    # view helpers are looked up when a view runs (workers import this module, never views).
    from . import views

    return views


@require_GET
def lifecycle_lab(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "behaviours": BEHAVIOURS,
        "shapes": SHAPES,
        "soft_time_limit": tasks.lifecycle_task.soft_time_limit,
        "max_retries": tasks.lifecycle_task.max_retries,
    }
    return _lab_views().lab_page(request, LAB, context=context)


@require_POST
def lifecycle_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    behaviour = request.POST.get("behaviour", "")
    return _lab_views().lab_started(
        request, LAB, lambda: lab_lifecycle_start(learner_id=learner_id, behaviour=behaviour)
    )


@require_POST
def lifecycle_canvas(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    shape = request.POST.get("shape", "")
    return _lab_views().lab_started(
        request, LAB, lambda: lab_lifecycle_canvas_start(learner_id=learner_id, shape=shape)
    )


@require_POST
def lifecycle_cancel(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    try:
        run = lab_lifecycle_cancel(learner_id=learner_id, run_id=request.POST.get("run", ""))
    except LabError as error:
        if not request.htmx:
            return _lab_views().lab_page(request, LAB, error=error)
        context = {"error": error}
        return render(request, "labs/lifecycle.html#cancel-result", context, status=error.status)
    if not request.htmx:
        return redirect("labs:lifecycle")
    return render(request, "labs/lifecycle.html#cancel-result", {"cancelled": run})
