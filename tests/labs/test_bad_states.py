"""What the lab says when the broker or the worker is missing: a clear message, never a hang."""

import re
import signal

from tests.http import LiveClient
from tests.stack import redis_service, wait_until, web_service, worker_service

# The deadline the lab pages give a silent run in the tests below, in place of the labs' own.
DEADLINE_SECONDS = 3
ENDED = {"Done", "Failed", "Lost"}


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


def statuses(page: str) -> dict[str, str]:
    """Each run on a ping page, and its status as shown."""
    return dict(re.findall(r'Run (\w+) <span class="status">(\w+)</span>', page))


def ping_statuses(learner: LiveClient) -> dict[str, str]:
    return statuses(learner.get("/labs/ping/").text)


def test_runs_in_flight_when_redis_and_the_worker_are_lost_all_end_done_failed_or_lost(
    start_services,
):
    """`make serve`'s Redis (append-only file, noeviction) and the worker killed in the middle
    of three learners' ping runs, as when their machine restarts, then started again:
    on each learner's page each run ends, within the deadline, as done, failed or lost (with
    the way to run it again), none stays queued or running; and a run started afterwards
    finishes."""
    redis, redis_url = redis_service(durable=True)
    start_services(redis)
    deadline = {"LEARNSITE_LAB_RUN_DEADLINE_SECONDS": str(DEADLINE_SECONDS)}
    web, base_url = web_service(redis_url, **deadline)
    start_services(web)
    worker = start_services(worker_service(redis_url, "labs"))
    learners = [LiveClient(base_url) for _ in range(3)]
    for learner in learners:
        learner.get("/labs/ping/")
    stream = learners[0].events("/streams/labs/ping/events/")
    next(stream)
    runs = [
        re.search(r"Run (\w+)", learner.htmx_post("/labs/ping/start/").text).group(1)
        for learner in learners
    ]
    read_until(stream, lambda e: e.event == "runs" and statuses(e.data).get(runs[0]) == "Running")

    worker.stop(signal.SIGKILL)
    redis.stop(signal.SIGKILL)
    start_services(redis)
    start_services(worker_service(redis_url, "labs"))

    # The open page says so by itself: no event of that run will ever come again.
    read_until(stream, lambda e: e.event == "runs" and statuses(e.data).get(runs[0]) == "Lost")
    for learner, run_id in zip(learners, runs, strict=True):
        wait_until(lambda learner=learner: set(ping_statuses(learner).values()) <= ENDED,
                   seconds=4 * DEADLINE_SECONDS)  # fmt: skip
        # Its events may have been lost with Redis: its start is recorded in the database.
        assert run_id in ping_statuses(learner)
    page = learners[0].get("/labs/ping/").text
    assert f"No news from this run for {DEADLINE_SECONDS} s" in page
    assert 'href="#lab-controls"' in page and 'id="lab-controls"' in page

    again = re.search(r"Run (\w+)", learners[0].htmx_post("/labs/ping/start/").text).group(1)
    read_until(stream, lambda e: e.event == "runs" and statuses(e.data).get(again) == "Done")
    stream.close()
