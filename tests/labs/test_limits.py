"""Limits that keep one learner from flooding the broker, and streams that free what they hold."""

import json
import time

import redis

from labs.limits import STREAMS_PER_LEARNER, rate_limit_allows
from labs.services import RUNS_IN_FLIGHT
from learnsite.workers import QUEUES
from tests.http import LiveClient
from tests.stack import redis_service, wait_until, web_service


def no_worker_stack(start_services) -> tuple[str, str]:
    """A Redis and a web server with no worker: every run stays queued."""
    redis_server, redis_url = redis_service()
    start_services(redis_server)
    web, base_url = web_service(redis_url)
    start_services(web)
    return redis_url, base_url


def open_streams(client: LiveClient) -> int:
    return json.loads(client.get("/healthz").text)["process"]["open_streams"]


def test_the_rate_limit_counts_per_key_in_a_window(redis_url):
    key, other = f"test:rate:{time.time_ns()}", f"test:rate-other:{time.time_ns()}"
    assert [rate_limit_allows(key=key, limit=3, window_seconds=60) for _ in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip
    assert rate_limit_allows(key=other, limit=3, window_seconds=60)
    assert 0 < redis.Redis.from_url(redis_url).ttl(key) <= 60


def test_runs_in_flight_are_limited_per_learner_whatever_their_lab(start_services):
    _, base_url = no_worker_stack(start_services)
    learner, other = LiveClient(base_url), LiveClient(base_url)
    learner.get("/labs/ping/")
    other.get("/labs/ping/")
    statuses = [learner.htmx_post("/labs/ping/start/").status for _ in range(RUNS_IN_FLIGHT - 1)]
    statuses.append(learner.htmx_post("/labs/broker/start/", {"hold": "0"}).status)
    statuses.append(learner.htmx_post("/labs/ping/start/").status)
    assert statuses == [200] * RUNS_IN_FLIGHT + [429]
    refused = learner.htmx_post("/labs/ping/start/").text
    # No worker runs here: the runs stay queued, and the refusal says where to look.
    assert "runs in flight" in refused and "its card says how to start one" in refused
    assert other.htmx_post("/labs/ping/start/").status == 200


def test_a_deep_queue_refuses_new_runs_for_everyone_on_that_queue_only(start_services):
    redis_url, base_url = no_worker_stack(start_services)
    backlog = [b"backlog"] * (QUEUES["labs"].max_depth + 1)
    redis.Redis.from_url(redis_url).lpush("labs", *backlog)  # the ping lab's queue
    learner = LiveClient(base_url)
    learner.get("/labs/ping/")
    response = learner.htmx_post("/labs/ping/start/")
    assert response.status == 503
    assert "The workers are busy" in response.text and "the queue labs" in response.text
    # The lifecycle lab's runs go to another queue, which is not full.
    started = learner.htmx_post("/labs/lifecycle/start/", {"behaviour": "succeed"})
    assert started.status == 200, started.text


def test_every_key_of_a_learner_expires(start_services):
    redis_url, base_url = no_worker_stack(start_services)
    learner = LiveClient(base_url)
    learner.get("/labs/ping/")
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)
    learner.htmx_post("/labs/ping/start/")
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("learnsite:learner:*")
    assert len(keys) >= 3  # events, rate counter, open streams
    assert all(client.ttl(key) > 0 for key in keys)
    stream.close()


def test_open_lab_pages_are_limited_and_a_closed_one_frees_its_place(learner):
    before = open_streams(learner)
    streams = [learner.events("/streams/labs/ping/events/") for _ in range(STREAMS_PER_LEARNER)]
    for stream in streams:
        next(stream)
    assert open_streams(learner) == before + STREAMS_PER_LEARNER

    response = learner.get("/streams/labs/ping/events/")
    assert response.status == 429 and "lab pages open" in response.text

    streams.pop().close()  # a closed tab: the server notices, ends the stream, frees its place
    wait_until(lambda: open_streams(learner) == before + STREAMS_PER_LEARNER - 1)
    again = learner.events("/streams/labs/ping/events/")
    assert next(again).event == "broker"
    for stream in [*streams, again]:
        stream.close()
    wait_until(lambda: open_streams(learner) == before)
