"""'Drop my stream' through real processes: the server ends the learner's ping stream."""

from labs.services import DROPS_PER_MINUTE
from tests.http import LiveClient
from tests.labs.ping_support import events_until_done, run_id_of


def frames_until_the_end(stream) -> list:
    """What the stream still sends before the server ends it (the generator stops there)."""
    seen = []
    for event in stream:
        assert ">Done<" not in event.data, "the stream went on after the drop"
        seen.append(event)
    return seen


def test_a_drop_ends_only_the_callers_streams(live_url):
    alice, bob = LiveClient(live_url), LiveClient(live_url)
    alice.get("/labs/ping/")
    bob.get("/labs/ping/")
    alice_stream, bob_stream = alice.events("/labs/ping/events/"), bob.events("/labs/ping/events/")
    next(alice_stream)
    next(bob_stream)

    assert alice.htmx_post("/labs/ping/drop/").status == 200
    # Announced after the drop: a stream still open would show this run.
    alice.htmx_post("/labs/ping/start/")
    assert frames_until_the_end(alice_stream) == []

    # Bob's stream, opened before Alice's drop, goes on to show his run to the end.
    bob_run = run_id_of(bob.htmx_post("/labs/ping/start/").text)
    events_until_done(bob_stream, bob_run)
    bob_stream.close()


def test_without_javascript_the_drop_is_a_form_that_comes_back_to_the_page(learner):
    response = learner.request(
        "POST", "/labs/ping/drop/", data={"csrfmiddlewaretoken": learner.csrf_token()}
    )
    assert response.status == 200 and "Drop my stream" in response.text


def test_a_drop_without_csrf_token_is_refused(learner):
    response = learner.request("POST", "/labs/ping/drop/", data={}, headers={"HX-Request": "true"})
    assert response.status == 403


def test_drops_are_rate_limited(learner):
    statuses = [learner.htmx_post("/labs/ping/drop/").status for _ in range(DROPS_PER_MINUTE)]
    assert statuses == [200] * DROPS_PER_MINUTE
    refused = learner.htmx_post("/labs/ping/drop/")
    assert refused.status == 429 and "dropped your stream" in refused.text
