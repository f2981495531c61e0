"""/healthz: the state of the database, Redis and the Celery workers, as JSON."""

import os

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

from .celery import app as celery_app
from .hub import open_listeners
from .redis import redis_client

WORKER_PING_SECONDS = 1.0


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


def worker_status() -> dict:
    """Which workers answer a ping over the broker within a second."""
    replies = celery_app.control.ping(timeout=WORKER_PING_SECONDS)
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return {"ok": False, "error": "no Celery worker answered", "workers": []}
    return {"ok": True, "workers": workers}


@require_GET
def healthz(request) -> JsonResponse:
    checks = {"database": database_status(), "redis": redis_status()}
    if checks["redis"]["ok"]:
        checks["worker"] = worker_status()
    else:  # a ping through a dead broker would only wait out its retries
        checks["worker"] = {"ok": False, "error": "unknown: the broker is unavailable"}
    healthy = all(check["ok"] for check in checks.values())
    # Not a check: how many pages this web process is streaming to right now.
    process = {"pid": os.getpid(), "open_streams": open_listeners()}
    return JsonResponse(
        {"ok": healthy, **checks, "process": process}, status=200 if healthy else 503
    )
