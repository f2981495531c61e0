"""What the lab says when the broker or the worker is missing: a clear message, never a hang."""

import re
import signal

from tests.http import LiveClient
from tests.stack import redis_service, web_service, worker_service


def read_until(stream, predicate, limit: int = 100):
    for _ in range(limit):
        event = next(stream)
        if predicate(event):
            return event
    raise AssertionError("the expected event never came")


def test_redis_stopping_mid_session_is_explained_and_survived(start_services):
    redis, redis_url = redis_service()
    start_services(redis)
    web, base_url = web_service(redis_url)
    start_services(web)
    start_services(worker_service(redis_url, "labs"))
    learner = LiveClient(base_url)
    assert learner.get("/labs/ping/").status == 200
    stream = learner.events("/streams/labs/ping/events/")
    assert "connected" in next(stream).data

    redis.stop(signal.SIGKILL)

    paused = read_until(stream, lambda e: e.event == "broker")
    assert "not answering" in paused.data
    response = learner.htmx_post("/labs/ping/start/", timeout=5)
    assert response.status == 503
    assert "Nothing was started" in response.text
    # Pages that do not need Redis still work; the lab page says what is wrong.
    assert learner.get("/").status == 200
    lab_page = learner.get("/labs/ping/", timeout=5)
    assert lab_page.status == 200 and "not answering" in lab_page.text
    health = learner.get("/healthz", timeout=5)
    assert health.status == 503 and '"redis": {"ok": false' in health.text

    start_services(redis)  # the same socket again: the hub and the worker reconnect by themselves
    resumed = read_until(stream, lambda e: e.event == "broker")
    assert "connected" in resumed.data
    run_id = re.search(r"Run (\w+)", learner.htmx_post("/labs/ping/start/").text).group(1)
    read_until(stream, lambda e: e.event == "runs" and run_id in e.data and ">Done<" in e.data)
    stream.close()


def test_a_run_waits_for_a_worker_says_so_and_finishes_when_one_starts(start_services):
    redis, redis_url = redis_service()
    start_services(redis)
    web, base_url = web_service(redis_url)
    start_services(web)
    learner = LiveClient(base_url)
    learner.get("/labs/ping/")
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)

    response = learner.htmx_post("/labs/ping/start/")
    assert response.status == 200
    run_id = re.search(r"Run (\w+)", response.text).group(1)
    waiting = read_until(stream, lambda e: e.event == "runs" and "No worker has picked" in e.data)
    assert run_id in waiting.data and ">Queued<" in waiting.data
    health = learner.get("/healthz")
    assert health.status == 503 and "no Celery worker answered" in health.text

    start_services(worker_service(redis_url, "labs"))
    done = read_until(stream, lambda e: e.event == "runs" and ">Done<" in e.data)
    assert "No worker has picked" not in done.data
    stream.close()
