"""The live chain through real processes: uvicorn, Redis and a Celery worker."""

import re

import pytest

from tests.http import LiveClient
from tests.labs.ping_support import events_until_done, run_id_of


def test_ping_streams_every_step_then_the_result(learner):
    stream = learner.events("/streams/labs/ping/events/")
    first = next(stream)
    assert first.event == "broker" and "connected" in first.data

    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    seen = events_until_done(stream, run_id)
    stream.close()

    runs = [event for event in seen if event.event == "runs"]
    assert re.search(r'class="status">Queued<', runs[0].data)
    # Events that arrive together are shown together, so the frames may skip a status, but
    # progress never goes back, and the last frame's timeline holds every step in order.
    percents = [int(re.search(r'value="(\d+)"', event.data).group(1)) for event in runs]
    assert percents == sorted(percents) and percents[-1] == 100
    timeline = re.findall(r"</time> ([^<]+)</li>", runs[-1].data)
    steps = [f"Progress: step {n} of 5" for n in range(1, 6)]
    assert timeline == ["Queued on the broker", "Picked up by a worker", *steps, "Finished"]
    worker = r"Worker <code>test-labs-\d+-\d+@localhost</code> \(process \d+\)"
    assert re.search(worker, runs[-1].data)
    # Each frame carries the id of the newest event it shows, so ids never go back.
    ids = [tuple(map(int, event.id.split("-"))) for event in runs]
    assert ids == sorted(ids)


def test_a_reconnect_with_last_event_id_gets_what_it_missed(learner):
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)  # connected
    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    first_runs = next(event for event in stream if event.event == "runs")
    stream.close()  # the browser drops while the worker goes on

    resumed = learner.events("/streams/labs/ping/events/", last_event_id=first_runs.id)
    seen = events_until_done(resumed, run_id)
    resumed.close()
    final = seen[-1]
    # The first frame after the reconnect already holds every step the page missed.
    caught_up = next(event for event in seen if event.event == "runs")
    assert caught_up.id > first_runs.id
    assert "Picked up by a worker" in final.data and "step 5 of 5" in final.data


def test_a_learner_never_sees_another_learners_runs(live_url):
    alice, bob = LiveClient(live_url), LiveClient(live_url)
    alice.get("/labs/ping/")
    bob.get("/labs/ping/")

    # Bob names Alice's channel in every way the URL allows: it is ignored, the stream is his.
    bob_stream = bob.events(
        "/streams/labs/ping/events/?channel=learnsite:learner:x:announce&learner=x"
    )
    next(bob_stream)
    alice_stream = alice.events("/streams/labs/ping/events/")
    next(alice_stream)
    run_id = run_id_of(alice.htmx_post("/labs/ping/start/").text)
    events_until_done(alice_stream, run_id)
    alice_stream.close()

    bob_run = run_id_of(bob.htmx_post("/labs/ping/start/").text)
    bob_seen = events_until_done(bob_stream, bob_run)
    bob_stream.close()
    assert all(run_id not in event.data for event in bob_seen)


def test_the_stream_needs_a_lab_session(live_url):
    stranger = LiveClient(live_url)
    response = stranger.get("/streams/labs/ping/events/")
    assert response.status == 400
    assert "Open a lab page first" in response.text


@pytest.mark.parametrize("bad_id", ["abc", "1-2-3", "'; FLUSHALL", "9" * 30 + "-0"])
def test_a_malformed_last_event_id_is_refused(learner, bad_id):
    response = learner.get("/streams/labs/ping/events/", headers={"Last-Event-ID": bad_id})
    assert response.status == 400
    assert "event id must look like" in response.text


def test_a_post_without_csrf_token_is_refused(learner):
    response = learner.request("POST", "/labs/ping/start/", data={}, headers={"HX-Request": "true"})
    assert response.status == 403
