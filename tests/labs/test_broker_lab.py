"""The "Inside the broker" lab through real processes: what Redis holds for a learner's task,
read back through the page's snapshot endpoint while the task waits, runs and finishes."""

import base64
import html
import json
import re
import time
import urllib.parse

import pytest
from django.conf import settings
from django.test import Client

from labs.kinds.broker.fold import BrokerFold
from tests.http import LiveClient, Response
from tests.labs.ping_support import run_id_of
from tests.stack import redis_service, web_service, worker_service

WAIT_SECONDS = 30


def raw_value(page: str, key: str) -> str:
    """The Redis value shown in the page's <pre> for ``key``, unescaped."""
    match = re.search(rf'<pre class="raw" data-key="{key}">(.*?)</pre>', page, re.S)
    assert match, f"no value of {key} in the page"
    return html.unescape(match.group(1))


def field_value(page: str, name: str):
    """The first decoded field called ``name``, as the JSON value the page shows."""
    match = re.search(rf"<dt><code>{name}</code></dt>\s*<dd><pre>(.*?)</pre>", page, re.S)
    assert match, f"no field {name} in the page"
    return json.loads(html.unescape(match.group(1)))


def snapshot_until(client: LiveClient, path: str, predicate) -> Response:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        response = client.get(path)
        assert response.status == 200, response.text
        if predicate(response.text):
            return response
        time.sleep(0.25)
    raise AssertionError(f"the snapshot never showed what was expected:\n{response.text}")


def start_specimen(client: LiveClient, hold: str = "0") -> str:
    response = client.htmx_post("/labs/broker/start/", {"hold": hold})
    assert response.status == 200, response.text
    assert response.headers["HX-Trigger"] == "broker-queued"
    return re.search(r"Run (\w+) is on the queue", response.text).group(1)


def task_id_of(client: LiveClient, run_id: str) -> str:
    page = client.get("/labs/broker/").text
    return re.search(rf"run-{run_id}-title.*?Task id <code>([0-9a-f-]+)</code>", page, re.S)[1]


@pytest.fixture
def stack_without_worker(start_services):
    """A Redis and a web server of their own, and no worker: messages stay in the queue."""
    redis, redis_url = redis_service()
    start_services(redis)
    web, base_url = web_service(redis_url)
    start_services(web)
    return redis_url, base_url


def test_a_learner_reads_their_task_in_the_list_then_unacked_then_its_result(
    stack_without_worker, start_services
):
    redis_url, base_url = stack_without_worker
    alice, bob = LiveClient(base_url), LiveClient(base_url)
    page = alice.get("/labs/broker/")
    assert page.status == 200
    seconds = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert f"visibility timeout: {seconds} seconds on this site" in page.text
    assert bob.get("/labs/broker/").status == 200
    run_id = start_specimen(alice)
    task_id = task_id_of(alice, run_id)

    # 1. No worker: the message sits in the list "celery", exactly as kombu stored it.
    queued = alice.get(f"/labs/broker/redis/?run={run_id}")
    assert queued.status == 200
    assert 'data-phase="list"' in queued.text
    assert '<pre class="raw" data-llen>(integer) 1</pre>' in queued.text
    stored = json.loads(raw_value(queued.text, "celery"))
    assert stored["headers"]["id"] == task_id
    assert stored["headers"]["task"] == "labs.broker_specimen"
    assert stored["properties"]["body_encoding"] == "base64"
    args, kwargs, _embed = json.loads(base64.b64decode(stored["body"]))
    assert args == [] and kwargs["run_id"] == run_id
    # ...and the page decodes it: headers, then the base64 body.
    assert field_value(queued.text, "task") == "labs.broker_specimen"
    assert field_value(queued.text, "id") == task_id
    assert field_value(queued.text, "kwargs")["run_id"] == run_id
    decoded = re.search(r"<pre class=\"raw\" data-decoded-body>(.*?)</pre>", queued.text, re.S)
    assert json.loads(html.unescape(decoded[1]))[1]["run_id"] == run_id

    # Another learner counts the message but never sees it.
    theirs = bob.get("/labs/broker/redis/")
    assert theirs.status == 200
    assert '<pre class="raw" data-llen>(integer) 1</pre>' in theirs.text
    assert "<strong data-others>1</strong>" in theirs.text
    assert task_id not in theirs.text and run_id not in theirs.text
    assert 'data-key="celery"' not in theirs.text
    assert bob.get(f"/labs/broker/redis/?run={run_id}").status == 404
    assert bob.get(f"/labs/broker/?run={run_id}").status == 404

    # 2. A worker takes it: out of the list, into the hash "unacked" while it runs.
    start_services(worker_service(redis_url))
    running = snapshot_until(
        alice, f"/labs/broker/redis/?run={run_id}", lambda text: 'data-key="unacked"' in text
    )
    assert '<pre class="raw" data-llen>(integer) 0</pre>' in running.text
    message, exchange, routing_key = json.loads(raw_value(running.text, "unacked"))
    assert (exchange, routing_key) == ("", "celery")
    assert message == stored  # the very message that was in the list
    assert f"the field <code>{stored['properties']['delivery_tag']}</code>" in running.text

    # 3. It finishes: the result key, with its status and a time to live; the copy is gone.
    done = snapshot_until(
        alice, f"/labs/broker/redis/?run={run_id}", lambda text: 'data-status="SUCCESS"' in text
    )
    result = json.loads(raw_value(done.text, "result"))
    assert result["status"] == "SUCCESS" and result["task_id"] == task_id
    assert result["result"]["run"] == run_id
    assert f"GET celery-task-meta-{task_id}" in done.text
    ttl = int(re.search(r"<pre class=\"raw\" data-ttl>\(integer\) (-?\d+)</pre>", done.text)[1])
    assert 0 < ttl <= 3600
    assert 'data-key="unacked"' not in done.text


def test_a_countdown_task_leaves_the_list_at_once_and_waits_unacked(
    stack_without_worker, start_services
):
    redis_url, base_url = stack_without_worker
    start_services(worker_service(redis_url))
    learner = LiveClient(base_url)
    learner.get("/labs/broker/")
    run_id = start_specimen(learner, hold="10")

    held = snapshot_until(
        learner, f"/labs/broker/redis/?run={run_id}", lambda text: 'data-phase="held"' in text
    )
    assert '<pre class="raw" data-llen>(integer) 0</pre>' in held.text
    message, _exchange, _routing_key = json.loads(raw_value(held.text, "unacked"))
    assert message["headers"]["eta"]  # the worker, not Redis, waits for it
    assert 'data-key="celery"' not in held.text


def test_a_queued_run_of_another_lab_is_shown_as_the_learners(stack_without_worker):
    _, base_url = stack_without_worker
    learner = LiveClient(base_url)
    learner.get("/labs/lifecycle/")
    started = learner.htmx_post("/labs/lifecycle/start/", {"behaviour": "succeed"})
    run_id = run_id_of(started.text)  # a lab whose task is sent to the same queue, celery
    page = learner.get("/labs/broker/").text
    assert f"Your message for run {run_id} (lifecycle lab):" in page


@pytest.mark.parametrize("bad_id", ["abc", "'; FLUSHALL", "ZZZZZZZZ", "a" * 33, "../ping"])
def test_a_malformed_run_id_is_refused(stack_without_worker, bad_id):
    _redis_url, base_url = stack_without_worker
    learner = LiveClient(base_url)
    learner.get("/labs/broker/")
    query = urllib.parse.urlencode({"run": bad_id})
    assert learner.get(f"/labs/broker/redis/?{query}").status == 400
    assert learner.get(f"/labs/broker/?{query}").status == 400


def test_reading_redis_needs_a_lab_session_and_a_known_countdown(stack_without_worker):
    _redis_url, base_url = stack_without_worker
    stranger = LiveClient(base_url)
    assert stranger.get("/labs/broker/redis/").status == 400
    stranger.get("/labs/broker/")
    assert stranger.get("/labs/broker/redis/?run=0123abcd").status == 404
    refused = stranger.htmx_post("/labs/broker/start/", {"hold": "3600"})
    assert refused.status == 400 and "countdown" in refused.text


def broker_events(*events: dict) -> list[tuple[str, dict]]:
    """Broker lab events, one a second, with stream ids 1-0, 2-0..."""
    return [
        (f"{n}-0", {"lab": "broker", "at": float(n), **event})
        for n, event in enumerate(events, start=1)
    ]


def test_the_first_read_while_held_is_where_the_run_was_found():
    events = broker_events(
        {"kind": "queued", "run": "held", "task_id": "t-1", "countdown": 10},
        {"kind": "found", "run": "held", "where": "unacked"},
        {"kind": "found", "run": "held", "where": "nowhere"},  # a later read: not kept
        {"kind": "found", "run": "unknown", "where": "list"},  # no such run: ignored
    )
    [run] = BrokerFold.fold(events, now=2.0)
    assert (run.id, run.countdown, run.found, run.status) == ("held", 10, "unacked", "queued")


def test_a_prediction_is_answered_by_the_first_run_found_while_held():
    events = broker_events(
        {"kind": "predicted", "choice": "list"},
        {"kind": "queued", "run": "at-once", "countdown": 0},
        {"kind": "succeeded", "run": "at-once"},  # never held: says nothing
        {"kind": "queued", "run": "held", "countdown": 10},
    )
    waiting = BrokerFold.fold(events, now=5.0).prediction
    assert (waiting.choice, waiting.observed) == ("list", None)
    found = (
        "5-0",
        {"lab": "broker", "at": 5.0, "kind": "found", "run": "held", "where": "unacked"},
    )
    answered = BrokerFold.fold([*events, found], now=5.0).prediction
    assert (answered.observed, answered.run, answered.right) == ("unacked", "held", False)
    assert answered.observed_label == "Taken by the worker, with a copy in unacked"


def test_a_refused_start_without_htmx_gives_back_the_whole_page(db, redis_url):
    response = Client().post("/labs/broker/start/", {"hold": "3600"})
    page = response.content.decode()
    assert response.status_code == 400 and "countdown" in page
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert f"visibility timeout: {visibility} seconds" in page
    assert "you have not sent a specimen yet" in page
