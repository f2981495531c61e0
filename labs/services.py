"""Starting and running labs. Views and tasks call these; they hold no logic of their own."""

import secrets
import time
import uuid

from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from learnsite.hub import streams_end
from learnsite.workers import Queue, queue_of

from .events import event_publish, events_read_labs, learner_channel
from .limits import learner_allows, queue_depth
from .lost import lab_run_record
from .queues import WAITING_FORGOTTEN_SECONDS, run_waiting_add
from .registry import LAB_KINDS

RUNS_PER_MINUTE = 10
# Runs of one learner queued or running at once, in every queue; each queue has its own limit
# too (learnsite/workers.py: Queue.per_learner). A run older than the window no longer counts
# (its worker may have died with it).
RUNS_IN_FLIGHT = 3
IN_FLIGHT_WINDOW_SECONDS = WAITING_FORGOTTEN_SECONDS
# "Drop my stream" makes every open ping page of the learner reconnect: this many a minute.
DROPS_PER_MINUTE = 10

# Said by every lab action that needs Redis: a run, a console command, a publish, a prediction.
BROKER_DOWN = (
    "The broker (Redis) is not answering right now. Nothing was started or sent; try again in "
    "a moment."
)


class LabError(Exception):
    """A run that could not start, with a message for the learner and an HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BrokerUnavailable(LabError):
    status = 503


class BrokerBusy(LabError):
    status = 503


class RateLimited(LabError):
    status = 429


def events_read_every_lab(*, learner_id: str) -> dict[str, list[tuple[str, dict]]]:
    """The learner's events of each lab, oldest first, by lab (ids of different labs' streams
    do not compare)."""
    return events_read_labs(learner_id=learner_id, labs=LAB_KINDS)


def runs_in_flight(*, learner_id: str, now: float | None = None) -> dict[str, int]:
    """The learner's runs, in any lab, that were queued lately and are neither over nor lost,
    as each lab's own fold shows them on its page (a lifecycle run ends on a final state, not
    on a "succeeded" event), counted by the queue they were sent to."""
    now = now or time.time()
    since = now - IN_FLIGHT_WINDOW_SECONDS
    counts: dict[str, int] = {}
    for lab, events in events_read_every_lab(learner_id=learner_id).items():
        fold = LAB_KINDS[lab].fold
        # The lab's newest runs, as its page lists them: more than a learner may have in flight.
        for run in fold.fold(events, now=now, deadline=settings.LAB_RUN_DEADLINE_SECONDS):
            # Only runs sent to a queue (a console command is over as it is recorded).
            over = run.lost or run.status in fold.over_statuses
            if run.queue and run.queued_at >= since and not over:
                counts[run.queue] = counts.get(run.queue, 0) + 1
    return counts


def _limits_check(*, learner_id: str, lab: str, queue: Queue) -> None:
    depth = queue_depth(queue.name)
    if depth > queue.max_depth:
        raise BrokerBusy(
            f"The workers are busy: {depth} tasks are waiting in the queue {queue.name}. "
            "Nothing was started; try again in a minute."
        )
    in_flight = runs_in_flight(learner_id=learner_id)
    if sum(in_flight.values()) >= RUNS_IN_FLIGHT:
        raise RateLimited(
            f"You have {RUNS_IN_FLIGHT} runs in flight, the limit: "
            "wait for one to finish (or cancel one), then start another. A run still queued "
            "waits for its queue's worker: its card says how to start one if none is running."
        )
    # Fair share: one learner's runs take at most this many of a queue's places, so the others'
    # runs are never stuck behind theirs.
    mine = in_flight.get(queue.name, 0)
    if mine >= queue.per_learner:
        runs, which = ("run", "it") if mine == 1 else ("runs", "one")
        raise RateLimited(
            f"You already have {mine} {runs} waiting or running in the queue {queue.name} "
            f"({queue.purpose}), the limit for one learner: wait for {which} to finish, then "
            "start another."
        )
    lab_rate_check(learner_id=learner_id, lab=lab)


def lab_rate_check(*, learner_id: str, lab: str) -> None:
    """Count one more run of ``lab`` for the learner; RateLimited past RUNS_PER_MINUTE.

    Anything that starts a run counts here, queued or not, so every button of a lab shares it.
    """
    if not learner_allows(learner_id=learner_id, action=lab, per_minute=RUNS_PER_MINUTE):
        raise RateLimited(
            f"You started {RUNS_PER_MINUTE} runs in the last minute, the limit. "
            "Watch the ones in flight, then try again in a minute."
        )


def lab_run_start(*, learner_id: str, lab: str, task, options: dict | None = None,
                  countdown: int = 0) -> str:  # fmt: skip
    """Queue a run of ``lab`` (the Celery ``task``, given ``options`` as keyword arguments and
    sent with ``countdown``, if any) for the learner, within their limits; returns the run id
    at once. The run is counted in its queue's waiting runs until a worker starts it, and
    recorded in the database, where a Redis that loses its data cannot take it away."""
    queue = queue_of(task.name)
    try:
        _limits_check(learner_id=learner_id, lab=lab, queue=queue)
        run_id, task_id = secrets.token_hex(4), str(uuid.uuid4())
        # Recorded before the task is sent, so that "queued" always precedes the worker's events.
        queued = {"kind": "queued", "run": run_id, "lab": lab, "task_id": task_id}
        queued |= {"options": options or {}, "countdown": countdown}
        queued |= {"queue": queue.name, "pool": queue.pool, "concurrency": queue.concurrency}
        run_waiting_add(
            queue=queue.name, learner_id=learner_id, run_id=run_id, due=time.time() + countdown
        )
        event_publish(learner_id=learner_id, lab=lab, event=queued)
        kwargs = {"learner_id": learner_id, "run_id": run_id, **(options or {})}
        sending = {"countdown": countdown} if countdown else {}
        task.apply_async(kwargs=kwargs, task_id=task_id, retry=False, **sending)
    except (RedisError, OSError, OperationalError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    lab_run_record(learner_id=learner_id, lab=lab, run_id=run_id)
    return run_id


def lab_stream_drop(*, learner_id: str, lab: str) -> None:
    """End the learner's open event streams of ``lab``, in whatever web process holds them.

    Each ends its response normally, so the browser's EventSource reconnects by itself after
    the stream's ``retry:`` interval, sending Last-Event-ID, and is sent what it missed.
    """
    try:
        if not learner_allows(
            learner_id=learner_id, action=f"{lab}-drop", per_minute=DROPS_PER_MINUTE
        ):
            raise RateLimited(
                f"You dropped your stream {DROPS_PER_MINUTE} times in the last minute, the "
                "limit: watch it reconnect, then try again in a minute."
            )
        streams_end(channel=learner_channel(learner_id), name=lab)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
