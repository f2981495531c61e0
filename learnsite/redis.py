"""Connections to Redis, made in one place so that every caller gets the same timeouts.

Callers treat ``redis.RedisError`` (and ``OSError``) as "the broker is unavailable" and say so
on the page; the short timeouts keep that answer under two seconds.
"""

import asyncio
from functools import cache

import redis
import redis.asyncio
from django.conf import settings


def celery_broker_url(redis_url: str) -> str:
    """The same Redis as Celery (kombu) spells it: it calls unix sockets redis+socket://."""
    return redis_url.replace("unix://", "redis+socket://", 1)


def _options() -> dict:
    return {
        "socket_connect_timeout": settings.REDIS_TIMEOUT_SECONDS,
        "socket_timeout": settings.REDIS_TIMEOUT_SECONDS,
        "decode_responses": True,
    }


@cache
def redis_client() -> redis.Redis:
    """The process's blocking client (views, tasks); its pool is thread-safe."""
    return redis.Redis.from_url(settings.REDIS_URL, **_options())


_async_clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}
# Streams read in short bursts; when many wake at once they queue for a connection rather
# than each opening one (measured by bench/run.py: 50+ idle connections without a bound).
ASYNC_POOL_CONNECTIONS = 10


def aredis_client() -> redis.asyncio.Redis:
    """The asyncio client of the running event loop (streaming views)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=ASYNC_POOL_CONNECTIONS,
            timeout=settings.REDIS_TIMEOUT_SECONDS,
            **_options(),
        )
        client = _async_clients[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client


def _window_count_queued(pipe, *, key: str, window_seconds: int):
    pipe.set(key, 0, ex=window_seconds, nx=True)  # starts the window; INCR keeps its TTL
    pipe.incr(key)
    return pipe


def window_count(*, key: str, window_seconds: int) -> int:
    """Count one more use of ``key`` in a fixed window of ``window_seconds``; returns the uses
    so far in the window (rate limits, failed logins)."""
    pipe = _window_count_queued(redis_client().pipeline(), key=key, window_seconds=window_seconds)
    _, used = pipe.execute()
    return used


async def awindow_count(*, key: str, window_seconds: int) -> int:
    """``window_count`` for async views."""
    pipe = _window_count_queued(aredis_client().pipeline(), key=key, window_seconds=window_seconds)
    _, used = await pipe.execute()
    return used


def apubsub_client() -> redis.asyncio.Redis:
    """A client for a long-lived subscription: no read timeout, since it waits for messages."""
    options = _options() | {"socket_timeout": None, "health_check_interval": 15}
    return redis.asyncio.Redis.from_url(settings.REDIS_URL, **options)
