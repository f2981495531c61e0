"""Limits on what a learner can start or hold open, counted in Redis so every web process
agrees. Every key here belongs to one learner and expires on its own."""

import time
import uuid

from learnsite.redis import aredis_client, awindow_count, redis_client, window_count

from .events import KEY_PREFIX, LEARNER_TTL_SECONDS

# Lab pages (event streams) one learner may hold open at once, across every web process: one
# fewer than the connections a browser opens to one site over HTTP/1.1 (six), for with six
# streams open its pages' own requests (a button, a reconnection) wait for a connection that
# never comes free, and every tab freezes.
STREAMS_PER_LEARNER = 5
# A stream refreshes its entry at each heartbeat; an entry older than this is a stream whose
# process died without saying goodbye, and no longer counts.
STREAM_STALE_SECONDS = 45


def rate_limit_allows(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one more use of ``key`` in a fixed window; False once ``limit`` is passed."""
    return window_count(key=key, window_seconds=window_seconds) <= limit


def learner_rate_key(learner_id: str, action: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:rate:{action}"


def learner_allows(*, learner_id: str, action: str, per_minute: int) -> bool:
    """Count one more ``action`` of the learner this minute; False once ``per_minute`` is
    passed."""
    key = learner_rate_key(learner_id, action)
    return rate_limit_allows(key=key, limit=per_minute, window_seconds=60)


async def alearner_allows(*, learner_id: str, action: str, per_minute: int) -> bool:
    """``learner_allows`` for async views."""
    key = learner_rate_key(learner_id, action)
    return await awindow_count(key=key, window_seconds=60) <= per_minute


def queue_depth(queue: str) -> int:
    """Messages waiting in the Celery queue ``queue`` (a Redis list named after it)."""
    return redis_client().llen(queue)


def _streams_key(learner_id: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:streams"


async def stream_register(*, learner_id: str) -> str | None:
    """Count one more open stream for the learner; None (and nothing kept) over the limit."""
    key, stream_id, now = _streams_key(learner_id), uuid.uuid4().hex, time.time()
    pipe = aredis_client().pipeline()
    pipe.zremrangebyscore(key, "-inf", now - STREAM_STALE_SECONDS)
    pipe.zadd(key, {stream_id: now})
    pipe.zcard(key)
    pipe.expire(key, LEARNER_TTL_SECONDS)
    _, _, open_streams, _ = await pipe.execute()
    if open_streams > STREAMS_PER_LEARNER:
        await stream_unregister(learner_id=learner_id, stream_id=stream_id)
        return None
    return stream_id


async def stream_refresh(*, learner_id: str, stream_id: str) -> None:
    await aredis_client().zadd(_streams_key(learner_id), {stream_id: time.time()}, xx=True)


async def stream_unregister(*, learner_id: str, stream_id: str) -> None:
    await aredis_client().zrem(_streams_key(learner_id), stream_id)
