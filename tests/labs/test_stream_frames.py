"""What a lab's event stream sends per event, on the session's real Redis: only the card of the
run that changed (and the lab's summary of its runs, if it has one), rendered once where the
event was recorded and carried by its announcement; a gap in the announcements caught up from
the record; a reconnect with Last-Event-ID that misses nothing."""

import asyncio
import json
import re
import time

import pytest
import redis
from django.template.loader import render_to_string

import learnsite.redis
from labs.events import (
    announced_parse,
    event_publish,
    events_read,
    learner_channel,
    learner_stream_key,
)
from labs.fold import RUNS_SHOWN, stream_id_after
from labs.frames import CSRF_SLOT, card_template, slot_render, summary_template
from labs.pages import _event_stream
from labs.registry import LAB_KINDS
from learners.models import LabGoalMet, Learner
from learnsite.hub import ANNOUNCEMENTS_KEPT, Wakeup, event_hub
from learnsite.redis import aredis_client
from tests.labs.stream_support import Frames

SLOT = re.compile(r'<div class="run-slot" id="run-slot-([\w-]+)"( hx-swap-oob="true")?>')


def queued(run: str) -> dict:
    return {"kind": "queued", "run": run, "lab": "ping", "task_id": f"task-{run}"}


def progress(run: str, step: int) -> dict:
    return {"kind": "progress", "run": run, "lab": "ping", "step": step, "of": 5, "percent": 20}


def sending(run: str) -> dict:
    """An email lab run's first event: its web request is sending the email."""
    return {"kind": "sending", "run": run, "lab": "email", "options": {"latency_ms": 300}}


def runs_frame(event_id: str):
    return lambda frame: frame.startswith(f"id: {event_id}\nevent: runs\n")


def frame_html(frame: str) -> str:
    return "\n".join(line.removeprefix("data: ") for line in frame.splitlines()[2:] if line)


def publish(learner_id: str, event: dict, *, lab: str = "ping") -> str:
    return event_publish(learner_id=learner_id, lab=lab, event=event)


async def publish_async(learner_id: str, event: dict, *, lab: str = "ping") -> str:
    return await asyncio.to_thread(publish, learner_id, event, lab=lab)


async def open_stream(learner_id: str, *, after: str = "0-0", resumed: bool = False,
                      kind: str = "ping") -> Frames:  # fmt: skip
    stream = _event_stream(learner_id=learner_id, kind=kind, lab=LAB_KINDS[kind],
                           after=after, resumed=resumed, csrf_token="token")  # fmt: skip
    frames = Frames(stream)
    await frames.until(lambda frame: "Live updates: connected." in frame)
    await asyncio.wait_for(event_hub().connected.wait(), 5)
    return frames


@pytest.fixture
def learner_id(redis_url, db) -> str:
    # (db: the stream's first read also looks for the runs Redis lost, in the database.)
    return f"frames-{time.time_ns()}"


def test_a_streamed_card_is_the_card_the_page_renders():
    # The page puts in the very card the stream sends (one Jinja2 template), numbers unlocalized.
    lab = LAB_KINDS["ping"]
    start = 1_700_000_000.0
    events = [("1-0", queued("aaa") | {"at": start}),
              ("2-0", progress("aaa", 1) | {"at": start + 12.345, "percent": 1234})]  # fmt: skip
    runs = lab.fold.fold(events, now=start + 13)
    page = render_to_string(f"{lab.template}#runs", {"runs": runs, "csrf_token": "token"})
    card = slot_render(runs[0], "", card=card_template("ping"), csrf_token="token")
    assert "+12345 ms" in card and 'value="1234"' in card
    assert card in page


def test_the_routing_labs_streamed_card_and_table_are_what_the_page_renders():
    # Its table compares the newest finished run of each setup: the stream sends it with a card.
    def finished(run: str, setup: str, at: float) -> list[dict]:
        tasks = [{"kind": "task", "run": run, "task": label, "step": "finished", "t": 1600,
                  "queue": "q", "wait_ms": wait}
                 for label, wait in [(f"slow {n}", 100 * n) for n in range(1, 5)]
                 + [("fast 1", 4321), ("fast 2", 1234)]]  # fmt: skip
        queued = {"kind": "queued", "run": run, "options": {"setup": setup}}
        return [queued, *tasks, {"kind": "succeeded", "run": run}]

    events = finished("one", "one-queue", 1.0) + finished("two", "routed", 2.0)
    events = [(f"{n}-0", event | {"lab": "routing", "at": float(n)})
              for n, event in enumerate(events, 1)]  # fmt: skip
    runs = LAB_KINDS["routing"].fold.fold(events, now=30.0)
    page = render_to_string("labs/routing.html#runs", {"runs": runs, "csrf_token": "token"})
    card = slot_render(runs[0], "", card=card_template("routing"), csrf_token="token")
    summary = summary_template("routing").render(runs=runs, oob="")
    assert 'data-setup="routed"' in card and 'data-wait-ms="4321"' in card
    assert summary.count('data-fast-wait-ms="4321"') == 2
    assert card in page and summary in page


def test_a_card_escapes_what_a_worker_reported_on_the_page_and_in_the_stream():
    error = '<img src=x onerror="alert(1)"> & more'
    failed = {"run": "bad", "lab": "ping", "kind": "failed", "error": error, "at": 2.0}
    events = [("1-0", queued("bad") | {"at": 1.0}), ("2-0", failed)]
    runs = LAB_KINDS["ping"].fold.fold(events, now=3.0)
    page = render_to_string("labs/ping.html#runs", {"runs": runs, "csrf_token": "token"})
    card = slot_render(runs[0], "true", card=card_template("ping"), csrf_token="token")
    escaped = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; more"
    for html in (page, card):
        assert "<img" not in html and f'<p class="error">{escaped}</p>' in html


def test_an_event_of_one_run_sends_that_runs_card_only(learner_id):
    async def scenario() -> tuple[str, str, str]:
        frames = await open_stream(learner_id)
        try:
            first = await publish_async(learner_id, queued("aaa"))
            await frames.until(runs_frame(first))
            second = await publish_async(learner_id, queued("bbb"))
            added = await frames.until(runs_frame(second))
            step = await publish_async(learner_id, progress("aaa", 1))
            changed = await frames.until(runs_frame(step))
            return frames.seen[1], added, changed
        finally:
            await frames.close()

    whole, added, changed = asyncio.run(scenario())
    # The first frame holds the whole list; then each frame only what changed, out of band.
    assert whole.count('hx-swap-oob="innerHTML"') == 1 and 'id="run-slot-aaa"' in whole
    assert 'hx-swap-oob="beforebegin:#run-slot-aaa"' in added
    assert [slot for slot, _ in SLOT.findall(added)] == ["bbb"]
    assert SLOT.findall(changed) == [("aaa", ' hx-swap-oob="true"')]
    assert "step 1 of 5" in changed and "Run bbb" not in changed


def test_an_event_of_one_email_run_sends_its_card_and_the_chart_as_the_page_shows_them(learner_id):
    async def scenario() -> str:
        frames = await open_stream(learner_id, kind="email")
        try:
            for run in ("aaa", "bbb"):
                event_id = await publish_async(learner_id, sending(run), lab="email")
                await frames.until(runs_frame(event_id))
            answered = {"kind": "answered", "run": "aaa", "lab": "email", "request_ms": 321}
            return await frames.until(
                runs_frame(await publish_async(learner_id, answered, lab="email"))
            )
        finally:
            await frames.close()

    html = frame_html(asyncio.run(scenario()))
    # Run aaa's card and the chart, both out of band; not run bbb's card.
    assert SLOT.findall(html) == [("aaa", ' hx-swap-oob="true"')]
    assert html.count('id="runs-summary" hx-swap-oob="true"') == 1
    card, summary = html.split('<div class="runs-summary" id="runs-summary" hx-swap-oob="true">')
    assert 'data-run-row="bbb"' not in html
    assert '<dd class="request-time">321 ms</dd>' in card
    assert "Send now, run aaa: request 321 ms" in summary  # the chart drawn with the new event
    # The page, rendered from the same record, shows the very card and chart the stream sent.
    runs = LAB_KINDS["email"].fold.fold(
        events_read(learner_id=learner_id, lab="email"), now=time.time()
    )
    page = render_to_string("labs/email.html#runs", {"runs": runs, "csrf_token": "token"})
    assert card.replace(' hx-swap-oob="true"', "") in page
    assert f'<div class="runs-summary" id="runs-summary">{summary}' in page


# The options of a run's first event (queued), per lab: then its "started" changes its card.
QUEUED_THEN_STARTED = {
    "pools": {"options": {"pool": "threads", "concurrency": 8, "workload": "cpu"}},
    "watch": {"options": {"burst": 50, "threshold": 10}},
    "failure": {"options": {"mode": "none"}},
    "deploy": {"options": {"late": "A", "stop": "cold"}},
    "pubsub": {"options": {"channels": ["news"], "patterns": ["n*"]}},  # a Python subscriber
}


@pytest.mark.parametrize("kind", QUEUED_THEN_STARTED)
def test_an_event_of_one_run_sends_its_card_as_the_page_shows_it_in_every_lab(learner_id, kind):
    def event(kind_of_event: str, run: str, **values) -> dict:
        return {"kind": kind_of_event, "run": run, "lab": kind, **values}

    async def scenario() -> str:
        frames = await open_stream(learner_id, kind=kind)
        try:
            for run in ("aaa", "bbb"):
                queued = event("queued", run, **QUEUED_THEN_STARTED[kind])
                await frames.until(runs_frame(await publish_async(learner_id, queued, lab=kind)))
            started = event("started", "aaa", worker="labs-long@here")
            event_id = await publish_async(learner_id, started, lab=kind)
            return await frames.until(runs_frame(event_id))
        finally:
            await frames.close()

    html = frame_html(asyncio.run(scenario()))
    # Run aaa's card (and the pools lab's table of both runs), out of band; not run bbb's card.
    assert SLOT.findall(html) == [("aaa", ' hx-swap-oob="true"')]
    assert 'data-run-row="bbb"' not in html and 'hx-swap-oob="innerHTML"' not in html
    summary_slot = '<div class="runs-summary" id="runs-summary" hx-swap-oob="true">'
    card, _, summary = html.partition(summary_slot)
    assert 'data-status="started"' in card
    runs = LAB_KINDS[kind].fold.fold(events_read(learner_id=learner_id, lab=kind), now=time.time())
    page = render_to_string(f"labs/{kind}.html#runs", {"runs": runs, "csrf_token": "token"})
    assert card.replace(' hx-swap-oob="true"', "", 1) in page
    if kind == "pools":
        assert 'data-compare-run="aaa"' in summary and 'data-compare-run="bbb"' in summary
        assert f'<div class="runs-summary" id="runs-summary">{summary}' in page


def test_a_pubsub_event_sends_the_panel_item_it_adds_or_changes_not_the_panels(learner_id):
    def published(data: str) -> dict:
        return {"kind": "published", "lab": "pubsub", "channel": "news", "data": data,
                "receivers": 1}  # fmt: skip

    received = {"kind": "received", "lab": "pubsub", "subscriber": "tab ab12", "channel": "news",
                "data": "one"}  # fmt: skip

    async def scenario() -> tuple[list[str], str, str]:
        frames = await open_stream(learner_id, kind="pubsub")
        try:
            ids = []
            for data in ("one", "two"):
                ids.append(await publish_async(learner_id, published(data), lab="pubsub"))
                await frames.until(runs_frame(ids[-1]))
            sent = []
            for event in (received, published("three")):
                event_id = await publish_async(learner_id, event, lab="pubsub")
                sent.append(frame_html(await frames.until(runs_frame(event_id))))
            return ids, *sent
        finally:
            await frames.close()

    (one, two), changed, added = asyncio.run(scenario())
    # The item the delivery changed, in place; the new publish's item on top of the newest one.
    assert re.findall(r'<li id="publishes-([\d-]+)"', changed) == [one]
    assert "tab ab12" in changed and "“two”" not in changed
    assert f'<div hx-swap-oob="beforebegin:#publishes-{two}"><li id="publishes-' in added
    assert added.count("<li") == 1 and "“three”" in added
    runs = LAB_KINDS["pubsub"].fold.fold(events_read(learner_id=learner_id, lab="pubsub"), now=1)
    page = render_to_string("labs/pubsub.html#runs", {"runs": runs, "csrf_token": "token"})
    assert changed.replace(' hx-swap-oob="true"', "", 1) in page


def test_the_oldest_card_goes_when_a_new_run_pushes_it_out(learner_id):
    runs = [f"r{n}" for n in range(RUNS_SHOWN + 1)]

    async def scenario() -> str:
        frames = await open_stream(learner_id)
        try:
            for run in runs[:-1]:
                # each shown before the next, or one frame may bring several (a busy stream
                # folds all it was woken for)
                await frames.until(runs_frame(await publish_async(learner_id, queued(run))))
            newest = await publish_async(learner_id, queued(runs[-1]))
            return await frames.until(runs_frame(newest))
        finally:
            await frames.close()

    frame = asyncio.run(scenario())
    assert '<div id="run-slot-r0" hx-swap-oob="delete"></div>' in frame
    assert [slot for slot, _ in SLOT.findall(frame)] == [runs[-1]]


def test_an_announced_event_is_shown_without_reading_the_record(learner_id, monkeypatch):
    """With every pooled connection held, the stream cannot read Redis: the announcement is all
    it has, and enough."""
    monkeypatch.setattr(learnsite.redis, "_async_clients", {})
    monkeypatch.setattr(learnsite.redis, "ASYNC_POOL_CONNECTIONS", 1)

    async def scenario() -> str:
        frames = await open_stream(learner_id)
        # A first event, once the hub is connected: the stream has read its record since.
        await frames.until(runs_frame(await publish_async(learner_id, queued("free"))))
        pool = aredis_client().connection_pool
        held = await pool.get_connection()
        try:
            event_id = await publish_async(learner_id, queued("held"))
            return await frames.until(runs_frame(event_id))
        finally:
            await pool.release(held)
            await frames.close()

    assert 'id="run-slot-held"' in asyncio.run(scenario())


def test_a_gap_in_the_announcements_is_caught_up_from_the_record(learner_id, redis_url):
    async def scenario() -> str:
        frames = await open_stream(learner_id)
        try:
            await frames.until(runs_frame(await publish_async(learner_id, queued("one"))))
            # Recorded, never announced (as if the hub had missed it), then one announced.
            missed = {**progress("one", 1), "at": time.time()}
            key = learner_stream_key(learner_id, "ping")
            redis.Redis.from_url(redis_url).xadd(key, {"event": json.dumps(missed)})
            event_id = await publish_async(learner_id, progress("one", 2))
            return await frames.until(runs_frame(event_id))
        finally:
            await frames.close()

    frame = asyncio.run(scenario())
    assert "step 1 of 5" in frame and "step 2 of 5" in frame


def test_a_reconnect_with_last_event_id_misses_nothing(learner_id):
    first = publish(learner_id, queued("gone"))
    missed = [publish(learner_id, progress("gone", step)) for step in (1, 2, 3)]

    async def scenario() -> list[str]:
        frames = await open_stream(learner_id, after=first, resumed=True)
        try:
            await frames.until(lambda frame: "event: runs" in frame)
            return frames.seen
        finally:
            await frames.close()

    seen = asyncio.run(scenario())
    [caught_up] = [frame for frame in seen if "event: runs" in frame]
    # The whole list again (the page's may be anything), with every step it missed, once.
    assert 'hx-swap-oob="innerHTML"' in caught_up
    assert [caught_up.count(f"step {step} of 5") for step in (1, 2, 3)] == [1, 1, 1]
    assert "3 events replayed" in caught_up
    resumed_id = caught_up.split("\n", 1)[0].removeprefix("id: ")
    assert stream_id_after(resumed_id, missed[-1])  # the resume's own record, after them


def test_a_wakeup_keeps_so_many_announcements_then_says_read_the_record():
    async def scenario() -> tuple:
        wakeup = Wakeup("ping")
        for n in range(ANNOUNCEMENTS_KEPT):
            wakeup.announce(str(n))
        kept = wakeup.take()
        for n in range(ANNOUNCEMENTS_KEPT + 1):
            wakeup.announce(str(n))
        return kept, wakeup.take(), wakeup.take()

    kept, overflowed, after = asyncio.run(scenario())
    assert kept == ([str(n) for n in range(ANNOUNCEMENTS_KEPT)], False)
    assert overflowed == ([], True) and after == ([], False)


@pytest.mark.parametrize(
    "data",
    ["1700000000000-0", "end:ping", "ping 0-0 1-0", "ping 0-0 1-0 soon id: 1-0",
     "ping x 1-0 - id: x", "ping 0-0 1-0\nevent: x - id: 1-0", "ping 0-0 1-0 - event: runs"],
)  # fmt: skip
def test_an_announcement_that_says_less_is_none(data):
    assert announced_parse(data) is None


def test_an_announcement_says_its_frame_and_when_its_page_looks_next():
    framed = announced_parse("ping 1-0 2-0 17.5 id: 2-0\nevent: runs\ndata: <p>x y</p>\n\n")
    assert framed.frame == "id: 2-0\nevent: runs\ndata: <p>x y</p>\n\n" and framed.look == 17.5
    assert announced_parse("ping 1-0 2-0 - id: 2-0\nevent: runs\n").look is None
    bare = announced_parse("ping 1-0 2-0 ")
    assert (bare.previous, bare.event_id, bare.frame) == ("1-0", "2-0", "")


class Announcements:
    """The announcements on a learner's channel, as a subscriber of the test's reads them."""

    def __init__(self, redis_url: str, learner_id: str) -> None:
        self.pubsub = redis.Redis.from_url(redis_url, decode_responses=True).pubsub()
        self.pubsub.subscribe(learner_channel(learner_id))
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"

    def next(self):
        message = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        return announced_parse(message["data"])


def test_a_frame_is_rendered_against_the_record_when_another_process_recorded_before(
    learner_id, redis_url
):
    announcements = Announcements(redis_url, learner_id)
    first = publish(learner_id, queued("one"))
    assert announcements.next().frame  # this process keeps the lab's fold just after it
    # Recorded by another process (never announced here): the kept fold no longer stands at
    # the event before the next one.
    other = {**progress("one", 1), "at": time.time()}
    before = (
        redis.Redis.from_url(redis_url)
        .xadd(learner_stream_key(learner_id, "ping"), {"event": json.dumps(other)})
        .decode()
    )
    last = publish(learner_id, progress("one", 2))
    item = announcements.next()
    assert (item.previous, item.event_id) == (before, last) and stream_id_after(before, first)
    # The card as the record has it: both steps, though this process never saw step 1.
    assert "step 1 of 5" in item.frame and "step 2 of 5" in item.frame
    assert item.frame.startswith(f"id: {last}\nevent: runs\n")
    assert SLOT.findall(frame_html(item.frame)) == [("one", ' hx-swap-oob="true"')]


def test_a_frame_forgets_the_runs_of_a_record_that_expired(learner_id, redis_url):
    announcements = Announcements(redis_url, learner_id)
    publish(learner_id, queued("old"))
    assert 'id="run-slot-old"' in announcements.next().frame
    # The learner's record expires (an hour without events); this process kept its fold.
    redis.Redis.from_url(redis_url).delete(learner_stream_key(learner_id, "ping"))
    publish(learner_id, queued("new"))
    item = announcements.next()
    assert item.previous == "0-0" and 'id="run-slot-new"' in item.frame
    assert "run-slot-old" not in item.frame  # as a page rendered from the record shows it


@pytest.mark.django_db(transaction=True)  # recorded by the process that records the event
def test_an_event_that_meets_a_goal_records_it_before_its_frame_shows_it(learner_id, redis_url):
    Learner.objects.create(key=learner_id)
    announcements = Announcements(redis_url, learner_id)
    succeeded = {"kind": "succeeded", "run": "one", "lab": "ping",
                 "result": {"worker": "w", "pid": 1, "worked_ms": 5}}  # fmt: skip
    met = LabGoalMet.objects.filter(learner__key=learner_id, goal="finish-a-run")
    goal = '<li id="goal-finish-a-run" hx-swap-oob="true" class="goal is-done" data-goal-done>'

    publish(learner_id, queued("one"))
    assert goal not in announcements.next().frame and not met.exists()
    publish(learner_id, succeeded)
    assert goal in announcements.next().frame and met.count() == 1
    # A second run meets no goal the first had not: its frames leave the list be.
    publish(learner_id, queued("two"))
    publish(learner_id, succeeded | {"run": "two"})
    assert not any(goal in announcements.next().frame for _ in range(2))
    assert met.count() == 1


def test_a_frame_sent_on_has_the_pages_own_csrf_token_in_its_forms(learner_id):
    queued_task = {"kind": "queued", "run": "one", "lab": "lifecycle", "task_id": "task-one",
                   "options": {"behaviour": "slow"}}  # fmt: skip

    async def scenario() -> str:
        frames = await open_stream(learner_id, kind="lifecycle")
        try:
            event_id = await publish_async(learner_id, queued_task, lab="lifecycle")
            return await frames.until(runs_frame(event_id))
        finally:
            await frames.close()

    frame = asyncio.run(scenario())
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="token">' in frame
    assert CSRF_SLOT not in frame and "Cancel run one" in frame
