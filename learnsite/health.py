"""Health endpoints, as JSON.

- ``/healthz/live``: the process answers (no I/O at all).
- ``/healthz/ready``: the database and Redis answer (cheap: no broker round trip).
- ``/healthz``: both, and the Celery workers, whose ping over the broker is made at most once
  every ``WORKER_CHECK_SECONDS`` per process (a failed ping too), so that calling it often costs
  nothing more than the readiness checks.
"""

import os
import threading
import time
from typing import NamedTuple

from celery import Celery
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from .celery import app as celery_app
from .hub import open_listeners
from .redis import redis_client

WORKER_PING_SECONDS = 1.0
# How long a process reuses its last answer from the workers (ok or not) before pinging again.
WORKER_CHECK_SECONDS = 5.0


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"ok": False, "error": str(error)}
    return {"ok": True, "vendor": connection.vendor}


def redis_status() -> dict:
    try:
        redis_client().ping()
    except (RedisError, OSError) as error:
        return {"ok": False, "error": str(error)}
    return {"ok": True}


def worker_status(*, app: Celery) -> dict:
    """Which workers answer a ping over the broker within ``WORKER_PING_SECONDS``."""
    try:
        # A connection of its own: a pooled one idle since before a Redis restart is broken,
        # and would answer "Broken pipe" once per stale connection in the pool.
        with app.connection_for_write() as broker:
            replies = app.control.ping(timeout=WORKER_PING_SECONDS, connection=broker)
    except (OperationalError, RedisError, OSError) as error:
        return {"ok": False, "error": f"unknown: {error}", "workers": []}
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return {"ok": False, "error": "no Celery worker answered", "workers": []}
    return {"ok": True, "workers": workers}


class WorkerCheck(NamedTuple):
    status: dict
    checked_at: float  # time.monotonic() when the ping ended


class WorkerCheckCache:
    """The last ``worker_status`` of one Celery app, reused for ``seconds``.

    Requests run in a thread pool: the lock makes them ping one at a time, so when the answer
    is stale one request pings and those that came meanwhile wait for it and reuse its answer.
    """

    def __init__(self, *, app: Celery, seconds: float) -> None:
        self.app, self.seconds = app, seconds
        self.lock = threading.Lock()
        self.last: WorkerCheck | None = None

    def check(self) -> WorkerCheck:
        with self.lock:
            if self.last is None or time.monotonic() - self.last.checked_at >= self.seconds:
                status = worker_status(app=self.app)
                self.last = WorkerCheck(status, time.monotonic())
            return self.last


# One per process.
worker_check_cache = WorkerCheckCache(app=celery_app, seconds=WORKER_CHECK_SECONDS)


def worker_check_status(*, cache: WorkerCheckCache) -> dict:
    """The cached worker status, with how old it is."""
    status, checked_at = cache.check()
    return {**status, "checked_seconds_ago": round(time.monotonic() - checked_at, 1)}


def _answer(checks: dict, **extra) -> JsonResponse:
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"ok": healthy, **checks, **extra}, status=200 if healthy else 503)


@require_GET
def healthz_live(request) -> JsonResponse:
    return JsonResponse({"ok": True})


@require_GET
def healthz_ready(request) -> JsonResponse:
    return _answer({"database": database_status(), "redis": redis_status()})


@require_GET
def healthz(request) -> JsonResponse:
    checks = {"database": database_status(), "redis": redis_status()}
    if checks["redis"]["ok"]:
        checks["worker"] = worker_check_status(cache=worker_check_cache)
    else:  # a ping through a dead broker would only wait out its retries
        checks["worker"] = {"ok": False, "error": "unknown: the broker is unavailable"}
    # Not a check: how many pages this web process is streaming to right now.
    process = {"pid": os.getpid(), "open_streams": open_listeners()}
    return _answer(checks, process=process)
