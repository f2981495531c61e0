"""'Drop my stream' through real processes: the server ends the learner's ping stream, a
reconnect with Last-Event-ID gets what it missed, and the resume is recorded on the run."""

import re

import redis

from labs.events import KEY_PREFIX, STREAM_RESUMED, events_read
from labs.kinds.ping.fold import PingFold
from labs.pages import RESUMES_RECORDED_PER_MINUTE
from labs.services import DROPS_PER_MINUTE
from tests.http import LiveClient
from tests.labs.ping_support import events_until_done, run_id_of
from tests.stack import wait_until

RESUMED = "Stream dropped and resumed"


def timeline(frame_html: str) -> list[str]:
    return re.findall(r"</time> ([^<]+)</li>", frame_html)


def frames_until_running(stream) -> list:
    """The stream's events up to the first frame that shows a run going (a step done)."""
    seen = []
    for event in stream:
        seen.append(event)
        if event.event == "runs" and ">Running<" in event.data:
            return seen
    raise AssertionError("the stream ended before the run got going")


def frames_until_the_end(stream) -> list:
    """What the stream still sends before the server ends it (the generator stops there)."""
    seen = []
    for event in stream:
        assert ">Done<" not in event.data, "the stream went on after the drop"
        seen.append(event)
    return seen


def test_a_drop_mid_run_ends_the_stream_and_the_reconnect_replays_what_it_missed(learner):
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)  # connected
    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    seen = frames_until_running(stream)

    dropped = learner.htmx_post("/labs/ping/drop/")
    assert dropped.status == 200 and "Last-Event-ID" in dropped.text
    seen += frames_until_the_end(stream)

    # Meanwhile the run goes on to its end (another tab of the learner's sees it finish)...
    other_tab = learner.events("/streams/labs/ping/events/")
    events_until_done(other_tab, run_id)
    other_tab.close()
    # ...and the browser reconnects, with the id of the last frame that carried one.
    last = [event for event in seen if event.id][-1]
    resumed = learner.events("/streams/labs/ping/events/", last_event_id=last.id)
    caught_up = events_until_done(resumed, run_id)[-1]
    resumed.close()

    # Its first frame of runs holds what the page had, then exactly the events it missed, then
    # the resume, which counted them.
    had, final = timeline(last.data), timeline(caught_up.data)
    at = next(n for n, entry in enumerate(final) if entry.startswith(RESUMED))
    assert final[: len(had)] == had and at > len(had)
    missed = at - len(had)
    assert final[at] == f"{RESUMED}: {missed} event{'' if missed == 1 else 's'} replayed"
    # Nothing twice, nothing lost: every step once, and one resume.
    steps = [f"Progress: step {n} of 5" for n in range(1, 6)]
    assert [entry for entry in final if not entry.startswith(RESUMED)] == [
        "Queued on the broker", "Picked up by a worker", *steps, "Finished",
    ]  # fmt: skip
    assert sum(entry.startswith(RESUMED) for entry in final) == 1

    # The resume is on the record, and the fold marks the run that was going.
    events = events_read(learner_id=learner.learner_key(), lab="ping")
    [record] = [event for _, event in events if event["kind"] == STREAM_RESUMED]
    assert (record["lab"], record["after"], record["replayed"]) == ("ping", last.id, missed)
    [run] = PingFold.fold(events, now=0)
    assert run.id == run_id and run.resumed and run.steps == [1, 2, 3, 4, 5]


def test_a_run_the_page_saw_end_is_not_marked_by_a_later_resume(learner):
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)
    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    done = events_until_done(stream, run_id)[-1]
    stream.close()

    resumed = learner.events("/streams/labs/ping/events/", last_event_id=done.id)
    frame = next(event for event in resumed if event.event == "runs")
    resumed.close()
    assert RESUMED not in frame.data
    [run] = PingFold.fold(events_read(learner_id=learner.learner_key(), lab="ping"), now=0)
    assert not run.resumed and run.steps == [1, 2, 3, 4, 5]


def test_a_drop_ends_only_the_callers_streams(live_url):
    alice, bob = LiveClient(live_url), LiveClient(live_url)
    alice.get("/labs/ping/")
    bob.get("/labs/ping/")
    alice_stream, bob_stream = (
        alice.events("/streams/labs/ping/events/"),
        bob.events("/streams/labs/ping/events/"),
    )
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


def test_a_page_reconnecting_in_a_loop_is_served_but_only_so_many_resumes_are_recorded(
    learner, redis_url
):
    learner_key = learner.learner_key()
    open_streams = redis.Redis.from_url(redis_url).zcard
    for _ in range(RESUMES_RECORDED_PER_MINUTE + 3):
        stream = learner.events("/streams/labs/ping/events/", last_event_id="1-0")
        assert next(stream).event == "broker"  # served, recorded or not
        stream.close()
        wait_until(lambda: open_streams(f"{KEY_PREFIX}{learner_key}:streams") == 0)
    events = events_read(learner_id=learner_key, lab="ping")
    resumes = [event for _, event in events if event["kind"] == STREAM_RESUMED]
    assert len(resumes) == RESUMES_RECORDED_PER_MINUTE
