"""A learner's lab events, one stream per lab, through real processes: a lab that records a lot
never pushes another lab's events out, and a reconnect replays only its own lab's events."""

from labs.events import (
    LEARNER_TTL_SECONDS,
    STREAM_MAX_EVENTS,
    event_publish,
    events_read,
    learner_stream_key,
)
from labs.fold import STREAM_RESUMED, stream_id_after
from learnsite.redis import redis_client
from tests.labs.ping_support import events_until_done, run_id_of


def console_command(n: int) -> dict:
    """A line typed in the console, as the console records it."""
    return {
        "lab": "console", "kind": "command", "name": "SET", "line": f"SET n {n}", "text": "OK",
        "status": "ok", "note": "", "facts": {},
    }  # fmt: skip


def finished_run(learner) -> str:
    """A ping run of the learner's, watched to its end; returns its id."""
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)
    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    events_until_done(stream, run_id)
    stream.close()
    return run_id


def test_the_console_filling_its_stream_leaves_the_learners_ping_run_alone(learner):
    key = learner.learner_key()
    run_id = finished_run(learner)
    ping = events_read(learner_id=key, lab="ping")

    # Twice what a stream keeps: a few minutes of typing at the console's 60 lines a minute.
    typed = STREAM_MAX_EVENTS * 2
    for n in range(typed):
        event_publish(learner_id=key, lab="console", event=console_command(n))

    console = [event for _, event in events_read(learner_id=key, lab="console")]
    assert len(console) < typed and console[0]["line"] != "SET n 0"  # capped: the oldest went
    assert console[-1]["line"] == f"SET n {typed - 1}"
    assert events_read(learner_id=key, lab="ping") == ping
    kinds = [event["kind"] for _, event in ping]
    assert kinds == ["queued", "started", *["progress"] * 5, "succeeded"]
    page = learner.get("/labs/ping/").text
    assert f'<h3 id="run-{run_id}-title">Run {run_id} <span class="status">Done<' in page
    for lab in ("ping", "console"):
        assert 0 < redis_client().ttl(learner_stream_key(key, lab)) <= LEARNER_TTL_SECONDS


def test_a_reconnect_on_one_lab_replays_only_that_labs_events(learner):
    key = learner.learner_key()
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)
    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    first = next(event for event in stream if event.event == "runs")
    stream.close()  # the ping page is away while its run goes on and the console records lines
    typed = [
        event_publish(learner_id=key, lab="console", event=console_command(n)) for n in range(20)
    ]
    other_tab = learner.events("/streams/labs/ping/events/")
    events_until_done(other_tab, run_id)
    other_tab.close()
    missed = [i for i, _ in events_read(learner_id=key, lab="ping") if stream_id_after(i, first.id)]

    resumed = learner.events("/streams/labs/ping/events/", last_event_id=first.id)
    frames = events_until_done(resumed, run_id)
    resumed.close()

    # The resume counts the ping events after the page's last id, none of the console's newer
    # ones, and every frame's id, the browser's next Last-Event-ID, is in the ping stream.
    ping = events_read(learner_id=key, lab="ping")
    [record] = [event for _, event in ping if event["kind"] == STREAM_RESUMED]
    assert record["replayed"] == len(missed) > 0
    assert f"{len(missed)} events replayed" in frames[-1].data
    assert {frame.id for frame in frames if frame.id} <= {event_id for event_id, _ in ping}

    # The other way round: the console, back from its 10th line, replays its last 10 lines and
    # none of the ping run's events, which went on meanwhile.
    console_stream = learner.events("/streams/labs/console/events/", last_event_id=typed[9])
    frame = next(event for event in console_stream if event.event == "runs")
    console_stream.close()
    console = events_read(learner_id=key, lab="console")
    [(record_id, record)] = [(i, event) for i, event in console if event["kind"] == STREAM_RESUMED]
    assert record["replayed"] == 10 and frame.id == record_id
    assert {event["lab"] for _, event in console} == {"console"}
