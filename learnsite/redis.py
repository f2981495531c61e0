"""Connections to Redis, made in one place so that every caller gets the same timeouts.

Callers treat ``redis.RedisError`` (and ``OSError``) as "the broker is unavailable" and say so
on the page; the short timeouts keep that answer under two seconds. The one exception is
``PoolBusy``: the asyncio client's pool had no free connection, which says nothing about Redis.
"""

import asyncio
import threading
from functools import cache, lru_cache
from urllib.parse import urlsplit

import redis
import redis.asyncio
from django.conf import settings


def celery_broker_url(redis_url: str) -> str:
    """The same Redis as Celery (kombu) spells it: it calls unix sockets redis+socket://."""
    return redis_url.replace("unix://", "redis+socket://", 1)


def redis_url_shareable(url: str) -> str | None:
    """``url`` if it can be shown to a learner (it holds no password), else None."""
    return None if urlsplit(url).password else url


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
# How long a caller of the asyncio client waits for one of those connections. Longer than a
# command's timeout on purpose: every command gives its connection back within its own timeout,
# so a long wait only means a long queue (1,000 streams woken at once), never a silent Redis;
# Redis not answering is told by the command that waits for it. Under the streams' heartbeat.
ASYNC_POOL_WAIT_SECONDS = 10.0


class PoolBusy(redis.ConnectionError):
    """No connection of this process's asyncio pool came free in time: they were all in use.
    Not a broker outage (Redis may be answering every one of them): try again later.

    A ``redis.ConnectionError``, so a caller that does not tell them apart still fails safe."""


class _BusyTellingPool(redis.asyncio.BlockingConnectionPool):
    """A ``BlockingConnectionPool`` whose wait for a free connection ends in ``PoolBusy``.

    redis-py 8.1 (``redis/asyncio/connection.py``, ``BlockingConnectionPool.get_connection``)
    ends that wait with ``raise ConnectionError("No connection available.") from err`` (``err``
    its ``asyncio.TimeoutError``): the class Redis refusing a connection raises too. Connecting
    afterwards fails with ``TimeoutError("Timeout connecting to server")`` (no cause) or a
    ``ConnectionError`` from an ``OSError`` that is no timeout, so the cause tells them apart."""

    async def get_connection(self, *args, **kwargs):
        try:
            return await super().get_connection(*args, **kwargs)
        except redis.ConnectionError as error:
            if type(error) is redis.ConnectionError and isinstance(
                error.__cause__, asyncio.TimeoutError
            ):
                raise PoolBusy(f"all {self.max_connections} connections in use") from error
            raise


def aredis_client() -> redis.asyncio.Redis:
    """The asyncio client of the running event loop (streaming views). It raises ``PoolBusy``
    when it waited ``ASYNC_POOL_WAIT_SECONDS`` for a free connection."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = _BusyTellingPool.from_url(
            settings.REDIS_URL,
            max_connections=ASYNC_POOL_CONNECTIONS,
            timeout=ASYNC_POOL_WAIT_SECONDS,
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


def apubsub_client(*, raw: bool = False) -> redis.asyncio.Redis:
    """A client for a long-lived subscription: no read timeout, since it waits for messages.
    ``raw``: its messages as Redis sent them, like ``raw_redis_client``'s replies."""
    options = (_raw_options() if raw else _options()) | {
        "socket_timeout": None,
        "health_check_interval": 15,
    }
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL, **options)
    return _raw(client) if raw else client


def subscriber_client(*, read_timeout: float) -> redis.Redis:
    """A blocking client with a connection of its own, for a subscriber in a worker (a
    subscribed connection can do nothing else), that reads at most ``read_timeout`` at a time."""
    return redis.Redis.from_url(settings.REDIS_URL, **_options() | {"socket_timeout": read_timeout})


# Raw clients: Redis's replies as they are, for the Redis console, which prints them as
# redis-cli does.


def _raw_options() -> dict:
    return _options() | {
        "encoding_errors": "surrogateescape",  # bytes written by redis-cli that are not UTF-8
        "protocol": 2,
    }


def _raw(client):
    """No redis-py callbacks (turning OK into True...): replies as Redis sent them."""
    client.response_callbacks.clear()
    return client


@lru_cache(maxsize=8)
def _raw_client_for(url: str, wait_seconds: float, max_connections: int) -> redis.Redis:
    options = _raw_options()
    if not max_connections:
        return _raw(redis.Redis.from_url(url, **options))
    options["socket_timeout"] += wait_seconds
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=options["socket_connect_timeout"],
        **options,
    )  # fmt: skip
    return _raw(redis.Redis(connection_pool=pool))


# lru_cache may build a value twice when threads ask for it at once (seen under load): two
# blocking pools would let twice ``max_connections`` callers wait. One at a time, only one.
_raw_clients_lock = threading.Lock()


def raw_redis_client() -> redis.Redis:
    """A client that returns Redis's replies as they are (the Redis console's)."""
    with _raw_clients_lock:
        return _raw_client_for(settings.REDIS_URL, 0, 0)


def raw_blocking_redis_client(*, wait_seconds: float, max_connections: int) -> redis.Redis:
    """A raw client for commands that wait up to ``wait_seconds`` (BRPOP, XREAD BLOCK...): it
    reads that much longer, and its pool holds at most ``max_connections``, built once per
    process. When they are all waiting, the next caller gets ``redis.ConnectionError("No
    connection available")`` after the connect timeout."""
    with _raw_clients_lock:
        return _raw_client_for(settings.REDIS_URL, wait_seconds, max_connections)
