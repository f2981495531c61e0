"""Celery signals: what the worker does to the lifecycle lab's tasks, reported as states.

RECEIVED comes from ``task_received`` (in the worker's main process), STARTED from
``task_prerun`` (in the pool process that runs the task), then SUCCESS, FAILURE and REVOKED from
``task_success``, ``task_failure`` (pool process) and ``task_revoked`` (main process: the web
process only sends the revoke, the worker that holds the task sends this signal). All of them
fire in a worker, never in a web process, so only workers need the handlers.

Nothing here is connected on import: ``lifecycle_signals_connect`` does it, once the worker is
starting (see labs/apps.py). The handlers report only the tasks of this lab (by task name).
"""

import logging
import os
import signal

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery import signals
from redis.exceptions import RedisError

from .services import TASK_NAMES, lifecycle_state_publish

log = logging.getLogger(__name__)


def _report(*, name: str, task_kwargs: dict | None, state: str, task_id: str, **fields) -> None:
    """Publish ``state`` for a task of this lab; the tasks of other labs are not reported."""
    if name not in TASK_NAMES or not task_kwargs or "learner_id" not in task_kwargs:
        return
    try:
        lifecycle_state_publish(
            learner_id=task_kwargs["learner_id"], run_id=task_kwargs["run_id"],
            node=task_kwargs.get("node"), state=state, task_id=task_id, **fields,
        )  # fmt: skip
    except (RedisError, OSError) as error:  # the worker goes on; only the page misses a step
        log.warning("could not report %s of task %s: %s", state, task_id, error)


def lifecycle_received(sender=None, request=None, **_) -> None:
    _report(
        name=request.name,
        task_kwargs=request.kwargs,
        state="RECEIVED",
        task_id=request.id,
        worker=request.hostname,
        redelivered=bool(request.delivery_info.get("redelivered")),
        eta=request.eta.timestamp() if request.eta else None,
    )


def lifecycle_prerun(sender=None, task_id=None, task=None, kwargs=None, **_) -> None:
    _report(
        name=task.name,
        task_kwargs=kwargs,
        state="STARTED",
        task_id=task_id,
        worker=task.request.hostname,
        pid=os.getpid(),  # the pool process that runs it
        attempt=task.request.retries + 1,
    )


def lifecycle_success(sender=None, result=None, **_) -> None:
    _report(
        name=sender.name, task_kwargs=sender.request.kwargs, state="SUCCESS",
        task_id=sender.request.id,
    )  # fmt: skip


def lifecycle_failure(sender=None, task_id=None, exception=None, kwargs=None, **_) -> None:
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


def lifecycle_revoked(sender=None, request=None, terminated=False, signum=None, expired=False,
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


# Each handler with its signal and dispatch_uid: connecting twice (in a worker and again in one
# of its pool processes, say) still connects each handler once.
HANDLERS = (
    (signals.task_received, lifecycle_received, "labs.lifecycle.received"),
    (signals.task_prerun, lifecycle_prerun, "labs.lifecycle.prerun"),
    (signals.task_success, lifecycle_success, "labs.lifecycle.success"),
    (signals.task_failure, lifecycle_failure, "labs.lifecycle.failure"),
    (signals.task_revoked, lifecycle_revoked, "labs.lifecycle.revoked"),
)


def lifecycle_signals_connect() -> None:
    """Connect the lab's signal handlers in this process (a worker)."""
    for celery_signal, handler, dispatch_uid in HANDLERS:
        celery_signal.connect(handler, dispatch_uid=dispatch_uid)
