"""Where a queued run stands in its Celery queue: how many runs will start before it.

Each queue keeps, in a Redis sorted set, the runs sent to it that no worker has started yet,
scored by when they are due (sent, plus any countdown). A run's rank there is the number of runs
ahead of it, whoever's they are: the messages in the queue's list before it, and those a worker
has taken but not started (prefetched, or waiting for their ETA). The web side adds a run as it
sends its task; the worker removes it when the task starts, or is revoked before it starts
(``run_waiting_signals_connect``, connected when a worker starts: labs/apps.py). An entry no
worker ever took (one lost with Redis or a purged queue) is forgotten after
``WAITING_FORGOTTEN_SECONDS``.
"""

import logging
import time

from celery import signals
from redis.exceptions import RedisError

from learnsite.redis import aredis_client, redis_client
from learnsite.workers import QUEUES

from .fold import Run

log = logging.getLogger(__name__)

WAITING_FORGOTTEN_SECONDS = 300


def waiting_key(queue: str) -> str:
    return f"learnsite:queue:{queue}:waiting"


def _member(learner_id: str, run_id: str) -> str:
    return f"{learner_id}:{run_id}"


def run_waiting_add(*, queue: str, learner_id: str, run_id: str, due: float) -> None:
    """Count the run as waiting in ``queue`` from now until a worker starts it."""
    key, now = waiting_key(queue), time.time()
    pipe = redis_client().pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now - WAITING_FORGOTTEN_SECONDS)
    pipe.zadd(key, {_member(learner_id, run_id): due})
    pipe.expire(key, WAITING_FORGOTTEN_SECONDS)
    pipe.execute()


def run_waiting_remove(*, learner_id: str, run_id: str) -> None:
    """The run has started (or will never start): no longer ahead of anyone."""
    pipe = redis_client().pipeline(transaction=False)
    for queue in QUEUES:
        pipe.zrem(waiting_key(queue), _member(learner_id, run_id))
    pipe.execute()


def _queued(runs: list[Run]) -> list[Run]:
    return [run for run in runs if run.queued and run.queue]


def _ranks_apply(runs: list[Run], ranks: list) -> dict[str, int | None]:
    for run, rank in zip(runs, ranks, strict=True):
        run.ahead = rank
    return {run.id: run.ahead for run in runs}


def runs_ahead_place(*, learner_id: str, runs: list[Run]) -> dict[str, int | None]:
    """Set ``ahead`` on each of the learner's queued runs (None: not counted, e.g. forgotten);
    returns them by run id."""
    queued = _queued(runs)
    if not queued:
        return {}
    pipe = redis_client().pipeline(transaction=False)
    for run in queued:
        pipe.zrank(waiting_key(run.queue), _member(learner_id, run.id))
    return _ranks_apply(queued, pipe.execute())


async def aruns_ahead_place(*, learner_id: str, runs: list[Run]) -> dict[str, int | None]:
    """``runs_ahead_place`` for the event streams."""
    queued = _queued(runs)
    if not queued:
        return {}
    pipe = aredis_client().pipeline(transaction=False)
    for run in queued:
        pipe.zrank(waiting_key(run.queue), _member(learner_id, run.id))
    return _ranks_apply(queued, await pipe.execute())


# ---- The worker's side


def _forget(kwargs: dict | None) -> None:
    if not kwargs or "learner_id" not in kwargs or "run_id" not in kwargs:
        return  # not a lab run
    try:
        run_waiting_remove(learner_id=kwargs["learner_id"], run_id=kwargs["run_id"])
    except (RedisError, OSError) as error:  # the task runs all the same; only a count is off
        log.warning("could not mark run %s started: %s", kwargs["run_id"], error)


def _started(sender=None, kwargs=None, **_) -> None:
    _forget(kwargs)


def _revoked(sender=None, request=None, **_) -> None:
    _forget(request.kwargs if request is not None else None)


def run_waiting_signals_connect() -> None:
    """Connect, in a worker, what takes a run out of its queue's waiting runs."""
    signals.task_prerun.connect(_started, dispatch_uid="labs.queues.started")
    signals.task_revoked.connect(_revoked, dispatch_uid="labs.queues.revoked")
