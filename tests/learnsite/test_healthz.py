import json
import signal
import threading
import time

from celery import Celery

from learnsite.health import (
    WORKER_CHECK_SECONDS,
    WORKER_PING_SECONDS,
    WorkerCheckCache,
    worker_check_status,
    worker_status,
)
from learnsite.redis import celery_broker_url
from tests.http import LiveClient
from tests.stack import redis_service, web_service


def test_healthz_reports_database_redis_and_the_workers(live_url, workers):
    response = LiveClient(live_url).get("/healthz")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    health = json.loads(response.text)
    assert health["ok"] is True
    assert health["database"] == {"ok": True, "vendor": "sqlite"}
    assert health["redis"] == {"ok": True}
    answered = " ".join(health["worker"]["workers"])
    assert all(worker.name in answered for worker in workers)
    assert 0 <= health["worker"]["checked_seconds_ago"] <= WORKER_CHECK_SECONDS


def test_liveness_and_readiness_answer_json_of_their_own_checks(live_url):
    client = LiveClient(live_url)
    live = client.get("/healthz/live")
    assert live.status == 200 and json.loads(live.text) == {"ok": True}
    ready = client.get("/healthz/ready")
    assert ready.status == 200
    assert json.loads(ready.text) == {
        "ok": True,
        "database": {"ok": True, "vendor": "sqlite"},
        "redis": {"ok": True},
    }


def test_with_redis_stopped_the_process_is_live_but_not_ready(start_services):
    redis, redis_url = redis_service()
    start_services(redis)
    web, base_url = web_service(redis_url)
    start_services(web)
    client = LiveClient(base_url)
    assert client.get("/healthz/ready").status == 200

    redis.stop(signal.SIGKILL)

    live = client.get("/healthz/live", timeout=5)
    assert live.status == 200 and json.loads(live.text) == {"ok": True}
    ready = client.get("/healthz/ready", timeout=5)
    assert ready.status == 503
    health = json.loads(ready.text)
    assert health["ok"] is False and health["database"]["ok"] is True
    assert health["redis"]["ok"] is False and health["redis"]["error"]


def _app_without_workers(start_services) -> Celery:
    """A Celery app on a Redis of its own, where no worker listens."""
    redis, redis_url = redis_service()
    start_services(redis)
    return Celery("no-workers", broker=celery_broker_url(redis_url), set_as_current=False)


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_failed_worker_check_is_kept_and_not_repeated_within_its_time(start_services):
    app = _app_without_workers(start_services)
    cache = WorkerCheckCache(app=app, seconds=WORKER_CHECK_SECONDS)

    first, first_took = _timed(lambda: worker_check_status(cache=cache))
    checked_at = cache.last.checked_at
    second, second_took = _timed(lambda: worker_check_status(cache=cache))

    assert first["ok"] is False and first["error"] == "no Celery worker answered"
    assert first_took >= WORKER_PING_SECONDS  # the ping waited for an answer that never came
    assert second_took < WORKER_PING_SECONDS  # no second ping: the first answer, kept
    assert cache.last.checked_at == checked_at
    assert {**second, "checked_seconds_ago": None} == {**first, "checked_seconds_ago": None}
    assert first["checked_seconds_ago"] <= second["checked_seconds_ago"] < WORKER_CHECK_SECONDS
    app.close()


def test_a_worker_check_past_its_time_pings_again(start_services):
    app = _app_without_workers(start_services)
    cache = WorkerCheckCache(app=app, seconds=0)  # always past its time

    worker_check_status(cache=cache)
    checked_at = cache.last.checked_at
    again, took = _timed(lambda: worker_check_status(cache=cache))

    assert took >= WORKER_PING_SECONDS and cache.last.checked_at > checked_at
    assert again["ok"] is False
    app.close()


def test_requests_at_once_share_one_worker_check(start_services):
    app = _app_without_workers(start_services)
    cache = WorkerCheckCache(app=app, seconds=WORKER_CHECK_SECONDS)
    callers = 4
    barrier = threading.Barrier(callers)
    checks = []

    def request():
        barrier.wait()
        checks.append(cache.check())

    threads = [threading.Thread(target=request) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One ping: every caller got the same check (each ping would have its own time).
    assert len(checks) == callers and len({check.checked_at for check in checks}) == 1
    app.close()


def test_the_worker_check_answers_again_once_redis_is_back(start_services):
    redis, redis_url = redis_service()
    start_services(redis)
    app = Celery("no-workers", broker=celery_broker_url(redis_url), set_as_current=False)
    assert worker_status(app=app)["error"] == "no Celery worker answered"

    redis.stop(signal.SIGKILL)  # /healthz makes no ping while Redis is down
    start_services(redis)  # the same socket again

    # Not the broken connection of before the restart, for ever.
    assert worker_status(app=app)["error"] == "no Celery worker answered"
    app.close()
