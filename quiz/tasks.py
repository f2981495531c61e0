"""Celery tasks of the quiz, and the debounced scheduling of the statistics refresh."""

import contextlib
import logging
from dataclasses import asdict

import redis
from celery import shared_task
from django.conf import settings

from learnsite.redis import redis_client

from .stats import question_stats_refresh

logger = logging.getLogger(__name__)

STATS_DEBOUNCE_KEY = "learnsite:quiz:stats:refresh-queued"


@shared_task(name="quiz.question_stats_refresh")
def question_stats_refresh_task() -> dict:
    return asdict(question_stats_refresh())


def stats_debounce_seconds() -> float:
    return settings.QUIZ_STATS_DEBOUNCE_SECONDS


def question_stats_schedule() -> str | None:
    """Queue a statistics refresh, unless one is already queued in this window.

    Called after each finished attempt has been committed. The first call of a window sets a
    Redis key (NX, expiring with the window) and queues the task to run when the window ends;
    later calls in the window find the key and queue nothing. Returns the queued task's id, or
    None. Never raises: the answers are already stored, and the request that graded them must
    not fail because of statistics. With Redis down it logs and skips; the next finished
    attempt schedules again.
    """
    window = stats_debounce_seconds()
    try:
        first = redis_client().set(STATS_DEBOUNCE_KEY, "1", nx=True, px=int(window * 1000))
    except (redis.RedisError, OSError) as error:
        logger.warning("Statistics refresh not scheduled: Redis is unavailable (%s)", error)
        return None
    if not first:
        return None
    try:
        result = question_stats_refresh_task.apply_async(countdown=window)
    except Exception:
        logger.exception("Statistics refresh not queued: the broker refused it")
        # Let the next finished attempt try again rather than wait for the window to end.
        with contextlib.suppress(redis.RedisError, OSError):
            redis_client().delete(STATS_DEBOUNCE_KEY)
        return None
    return result.id
