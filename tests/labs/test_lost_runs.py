"""Runs that went silent: each lab's fold shows a run not over, with no event for longer than
its lab's deadline, as lost, and its page says so with a way to run it again."""

import re
import secrets
import time
from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from django.test import Client

from labs.events import event_publish
from labs.fold import DEADLINE_SECONDS, STAND_IN_EVENT_ID
from labs.kinds.broker.fold import BrokerFold
from labs.kinds.ping.fold import PingFold
from labs.lost import RECORD_LOOKED_AT_SECONDS, lab_run_record
from labs.models import LabRunStarted
from labs.registry import LAB_KINDS
from labs.services import runs_in_flight
from learners.identity import SESSION_KEY


def ping_events(*events: dict) -> list[tuple[str, dict]]:
    return [(f"{1000 + n}-0", {"lab": "ping", **event}) for n, event in enumerate(events)]


QUEUED_AND_STEP = ping_events(
    {"kind": "queued", "run": "r", "at": 0.0},
    {"kind": "progress", "run": "r", "step": 1, "of": 5, "percent": 20, "at": 1.0},
)


def test_a_run_silent_past_its_deadline_is_lost_and_not_before():
    [going] = PingFold.fold(QUEUED_AND_STEP, now=1.0 + DEADLINE_SECONDS - 0.1)
    assert (going.status, going.lost) == ("running", False)
    [lost] = PingFold.fold(QUEUED_AND_STEP, now=1.0 + DEADLINE_SECONDS)
    assert (lost.status, lost.lost, lost.lost_after) == ("lost", True, DEADLINE_SECONDS)
    assert lost.status_label == "Lost"


def test_the_runs_say_when_the_next_one_becomes_lost():
    runs = PingFold.fold(QUEUED_AND_STEP, now=2.0, deadline=5.0)
    assert runs.lost_at == 6.0  # its last event, at 1.0, plus the deadline
    assert PingFold.fold(QUEUED_AND_STEP, now=6.0, deadline=5.0).lost_at is None


def test_a_finished_run_is_never_lost():
    events = [*QUEUED_AND_STEP, *ping_events({"kind": "failed", "run": "r", "at": 2.0})]
    [run] = PingFold.fold(events, now=10_000.0)
    assert (run.status, run.lost) == ("failed", False)


def test_a_late_event_moves_a_lost_run_on():
    """A message Redis kept is delivered again after the visibility timeout: the run comes back
    from lost and finishes."""
    fold = PingFold()
    for event_id, event in QUEUED_AND_STEP:
        fold.add(event_id, event)
    [lost] = fold.result(now=100.0, deadline=5.0)
    assert lost.status == "lost"
    fold.add("1005-0", {"lab": "ping", "kind": "succeeded", "run": "r", "at": 300.0})
    [run] = fold.result(now=301.0, deadline=5.0)
    assert (run.status, run.lost) == ("succeeded", False)


def test_a_countdown_adds_to_the_deadline():
    events = [("1-0", {"lab": "broker", "kind": "queued", "run": "r", "countdown": 10, "at": 0.0})]
    assert BrokerFold.fold(events, now=12.0, deadline=5.0)[0].status == "queued"
    assert BrokerFold.fold(events, now=15.0, deadline=5.0)[0].status == "lost"


LABS_WITH_RUNS = [kind for kind, lab in LAB_KINDS.items() if lab.fold.deadline_seconds]


@pytest.mark.parametrize("kind", LABS_WITH_RUNS)
def test_each_labs_run_card_shows_a_lost_run_with_its_start_controls_one_link_away(kind):
    lab = LAB_KINDS[kind]
    events = [("1-0", {"lab": kind, "kind": "queued", "run": "r1", "at": 0.0})]
    runs = lab.fold.fold(events, now=lab.fold.deadline_seconds)
    html = render_to_string(f"{lab.template}#runs", {"runs": runs})
    assert f"No news from this run for {round(lab.fold.deadline_seconds)} s" in html
    assert 'href="#lab-controls"' in html
    assert "Lost" in html
    assert "In the queue" not in html


def test_a_console_line_is_never_lost():
    events = [("1-0", {"lab": "console", "kind": "command", "status": "ok", "at": 0.0,
                       "line": "PING", "name": "PING", "text": "PONG"})]  # fmt: skip
    [entry] = LAB_KINDS["console"].fold.fold(events, now=10_000.0)
    assert not entry.lost


def test_a_run_stood_in_for_then_recorded_after_all_is_shown_once():
    """A stream's first read can miss a run started as it opens, whose start the database has
    already: its stand-in gives way to the run's own "queued" when that comes."""
    stand_in = (STAND_IN_EVENT_ID, {"kind": "queued", "lab": "ping", "run": "r", "at": 0.0})
    [run] = PingFold.fold([stand_in, *QUEUED_AND_STEP], now=1.0)
    assert [entry.kind for entry in run.timeline] == ["queued", "progress"]
    assert run.status == "running"


def test_a_run_whose_events_redis_lost_is_still_shown_as_lost(client, db, redis_url, settings):
    """A Redis started again without its data keeps no event of the runs in flight: their
    starts, recorded in the database, still show them, and each becomes lost at its deadline."""
    client.get("/labs/ping/")
    learner_key = client.session[SESSION_KEY]
    started = client.post("/labs/ping/start/", headers={"HX-Request": "true"})
    run_id = re.search(r"Run (\w+)", started.content.decode()).group(1)
    assert LabRunStarted.objects.filter(learner_key=learner_key, lab="ping", run_id=run_id).exists()
    # A run whose every event Redis lost: recorded, and nowhere in the learner's stream.
    lab_run_record(learner_id=learner_key, lab="ping", run_id="vanished")

    shown = client.get("/labs/ping/").content.decode()
    assert 'Run vanished <span class="status">Queued</span>' in shown  # within its deadline
    settings.LAB_RUN_DEADLINE_SECONDS = 0
    lost = client.get("/labs/ping/").content.decode()
    assert 'Run vanished <span class="status">Lost</span>' in lost
    assert "No news from this run for 0 s" in lost

    other = Client()
    other.get("/labs/ping/")
    assert "vanished" not in other.get("/labs/ping/").content.decode()  # only one's own runs


def test_a_lost_run_no_longer_counts_in_flight(redis_url, settings):
    """So that "Run it again" is not refused for the runs that Redis or a worker lost."""
    learner_id, now = secrets.token_hex(8), time.time()
    queued = {"kind": "queued", "run": "r", "queue": "labs", "at": now - 10}
    event_publish(learner_id=learner_id, lab="ping", event=queued)
    assert runs_in_flight(learner_id=learner_id, now=now) == {"labs": 1}
    settings.LAB_RUN_DEADLINE_SECONDS = 5
    assert runs_in_flight(learner_id=learner_id, now=now) == {}


def test_a_finished_lifecycle_run_no_longer_counts_in_flight(redis_url):
    """The lifecycle lab records states, not "succeeded": its own fold says when a run is over
    (three finished runs once kept the learner from starting a fourth for two minutes)."""
    learner_id, now = secrets.token_hex(8), time.time()
    for n in range(3):
        queued = {"kind": "queued", "run": f"r{n}", "queue": "celery", "at": now - 9}
        event_publish(learner_id=learner_id, lab="lifecycle", event=queued | {"mode": "success"})
    assert runs_in_flight(learner_id=learner_id, now=now) == {"celery": 3}
    for n in range(3):
        done = {"kind": "state", "run": f"r{n}", "state": "SUCCESS", "at": now - 5}
        event_publish(learner_id=learner_id, lab="lifecycle", event=done)
    assert runs_in_flight(learner_id=learner_id, now=now) == {}


def test_a_start_forgets_the_learners_records_too_old_to_be_looked_at(db):
    old = datetime.fromtimestamp(time.time() - RECORD_LOOKED_AT_SECONDS - 60, UTC)
    for learner in ("a" * 16, "b" * 16):
        LabRunStarted.objects.create(learner_key=learner, lab="ping", run_id="old", started_at=old)
    lab_run_record(learner_id="a" * 16, lab="ping", run_id="new")
    kept = LabRunStarted.objects.values_list("learner_key", "run_id")
    assert sorted(kept) == [("a" * 16, "new"), ("b" * 16, "old")]  # another learner's stay
