"""The blocking listen() trap, for real: a worker runs the sandbox process, publishes to it and
kills it at its limit; the assertions read the timeline the sandbox recorded."""

import os
import re
import signal
import time
from pathlib import Path

from labs.events import events_read
from labs.kinds.listen.fold import (
    HEARTBEAT_MS,
    MODES,
    PUBLISH_AT_SECONDS,
    ListenFold,
    saw_the_freeze,
)
from quiz.models import Answer, Attempt
from tests.authoring.factory import make_lesson, make_questions, predict_question_text
from tests.http import LiveClient, frame_until
from tests.stack import load_course


def lab_learner(live_url) -> LiveClient:
    client = LiveClient(live_url)
    assert client.get("/labs/listen/").status == 200
    return client


def start(client: LiveClient) -> str:
    response = client.htmx_post("/labs/listen/start/")
    assert response.status == 200, response.text
    return re.search(r'data-run-id="(\w+)"', response.text).group(1)


def recorded(client: LiveClient, run_id: str) -> list[dict]:
    """The run's events as recorded in Redis."""
    return [
        event
        for _, event in events_read(learner_id=client.learner_key(), lab="listen")
        if event.get("run") == run_id
    ]


def timeline(events: list[dict]) -> list[dict]:
    return [point for event in events if event["kind"] == "timeline" for point in event["points"]]


def test_listen_stops_answering_while_the_other_two_keep_answering_and_receiving(
    live_url, redis_url, tmp_path
):
    options = {code: f"{label}." for code, label in ListenFold.outcomes.items()}
    question = predict_question_text(
        qid="listen-which", lab="listen", options=options, expected="not-listen"
    )
    make_questions(make_lesson(tmp_path / "course", slug="listen-predicting"), question)
    load_course(tmp_path, redis_url)
    client = lab_learner(live_url)
    page = client.get("/labs/listen/").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    lab = client.events("/streams/labs/listen/events/")
    # Options a-d stand for all, not-listen, thread, none.
    predicted = client.htmx_post("/labs/listen/predict/", {"version": version, "choice": "b"})
    assert predicted.status == 200
    answer = Answer.objects.get(item__attempt__learner__key=client.learner_key())
    assert (answer.item.attempt.mode, answer.chosen, answer.correct) == (
        Attempt.Mode.PREDICT, ["b"], True,
    )  # fmt: skip
    run_id = start(client)
    frame = frame_until(
        lab, lambda data: f'data-run-row="{run_id}" data-status="succeeded"' in data
    )
    lab.close()

    points = timeline(recorded(client, run_id))

    def times(kind: str, mode: str) -> list[int]:
        return sorted(p["t"] for p in points if p["kind"] == kind and p.get("mode") == mode)

    # Every mode receives every message: listen() does receive; it is the answering that stops.
    for mode in MODES:
        assert len(times("received", mode)) == len(PUBLISH_AT_SECONDS)
    # The quiet spell between the third message and the fourth, as listen() lived it.
    arrivals = times("received", "listen")
    quiet = (arrivals[2] + HEARTBEAT_MS, arrivals[3])

    def answered_in_quiet(mode: str) -> int:
        return sum(1 for t in times("answered", mode) if quiet[0] < t < quiet[1])

    assert answered_in_quiet("listen") == 0
    assert answered_in_quiet("get_message") >= 10
    assert answered_in_quiet("thread") >= 10
    # listen() answers only in the moment after a message arrives, never otherwise.
    for t in times("answered", "listen"):
        assert any(0 <= t - arrival <= 100 for arrival in arrivals)

    # The page's numbers, folded from the same events.
    listen_events = events_read(learner_id=client.learner_key(), lab="listen")
    run = next(run for run in ListenFold.fold(listen_events, now=time.time()) if run.id == run_id)
    modes = {summary.mode: summary for summary in run.modes}
    assert not modes["listen"].kept_answering
    assert modes["listen"].longest_gap_ms >= quiet[1] - quiet[0]
    assert modes["get_message"].kept_answering and modes["thread"].kept_answering
    assert max(modes["get_message"].longest_gap_ms, modes["thread"].longest_gap_ms) < (
        modes["listen"].longest_gap_ms / 3
    )
    # The prediction, compared with what happened; the lesson's goal, met.
    assert 'data-prediction="not-listen" data-observed="not-listen"' in frame
    assert "the run showed" in frame and ": right." in frame
    page = client.get("/labs/listen/").text
    assert re.search(
        r'class="goal is-done" data-goal-done>.*see listen\(\) stop answering', page, re.S
    )


def test_the_sandbox_is_killed_at_its_limit_and_the_site_answers_meanwhile(live_url):
    client, other = lab_learner(live_url), LiveClient(live_url)
    lab = client.events("/streams/labs/listen/events/")
    run_id = start(client)
    running = f'data-run-row="{run_id}" data-status="running"'
    frame = frame_until(lab, lambda data: running in data and "data-sandbox-pid" in data)
    pid = int(re.search(r'data-sandbox-pid="(\d+)"', frame).group(1))
    assert Path(f"/proc/{pid}").exists()
    os.killpg(pid, 0)  # it leads a process group of its own (raises if there is none)

    # While the sandbox runs, the site answers: each page shows the run still running.
    for _ in range(5):
        page = client.get("/labs/listen/")
        assert page.status == 200 and running in page.text
        assert other.get("/labs/ping/").status == 200

    frame = frame_until(
        lab, lambda data: f'data-run-row="{run_id}" data-status="succeeded"' in data
    )
    lab.close()
    assert f'data-pid="{pid}" data-gone="yes"' in frame
    assert not Path(f"/proc/{pid}").exists()

    events = recorded(client, run_id)
    result = next(event["result"] for event in events if event["kind"] == "succeeded")
    assert result["pid"] == pid and result["gone"] is True
    assert result["returncode"] == -signal.SIGKILL  # killed, not ended by itself
    points = timeline(events)
    killed = next(point for point in points if point["kind"] == "killed")
    last_asked = max(point["t"] for point in points if point["kind"] == "asked")
    # It was alive and serving until the kill, and past the worker's last message.
    assert killed["t"] - last_asked <= 5 * HEARTBEAT_MS
    assert last_asked > max(point["t"] for point in points if point["kind"] == "published")


# The fold, the goal and the prediction's outcome: pure, over a timeline made here.

PUBLISHED_AT_MS = [100 + seconds * 1000 for seconds in PUBLISH_AT_SECONDS]
END_MS = 10_100


def sandbox_points(*, answering: set[str]) -> list[dict]:
    """A sandbox's timeline: the modes in ``answering`` answer every heartbeat at once; the
    others only answer what piled up, just after each message (listen()'s way)."""
    points = [{"t": 0, "kind": "start", "pid": 4242}, {"t": 100, "kind": "ready"}]
    asks = list(enumerate(range(100, END_MS, HEARTBEAT_MS), 1))
    for seq, t in asks:
        points.append({"t": t, "kind": "asked", "seq": seq})
        points += [
            {"t": t + 5, "kind": "answered", "mode": mode, "seq": seq, "asked": t}
            for mode in MODES
            if mode in answering
        ]
    since = 0
    for n, t in enumerate(PUBLISHED_AT_MS, 1):
        points.append({"t": t, "kind": "published", "data": f"message {n}", "receivers": 3})
        points += [{"t": t + 2, "kind": "received", "mode": mode} for mode in MODES]
        points += [
            {"t": t + 3, "kind": "answered", "mode": mode, "seq": seq, "asked": asked}
            for mode in MODES
            if mode not in answering
            for seq, asked in asks
            if since <= asked < t
        ]
        since = t
    points.append({"t": END_MS, "kind": "killed", "pid": 4242, "gone": True, "limit_seconds": 10})
    return points


def sandbox_run(*, answering: set[str], ended: bool = True) -> list[tuple[str, dict]]:
    """A run's events, a prediction of "not-listen" before it."""
    events = [
        {"kind": "predicted", "choice": "not-listen"},
        {"kind": "queued", "run": "r1"},
        {"kind": "started", "run": "r1", "worker": "w@host"},
        {"kind": "timeline", "run": "r1", "points": sandbox_points(answering=answering)},
    ]
    if ended:
        events.append({"kind": "succeeded", "run": "r1", "result": {"pid": 4242}})
    return [(f"{n}-0", {"lab": "listen", "at": float(n), **e}) for n, e in enumerate(events, 1)]


def test_a_run_where_listen_froze_shows_it_and_answers_the_prediction():
    runs = ListenFold.fold(sandbox_run(answering={"get_message", "thread"}), now=100.0)
    (run,) = runs
    assert (run.status, run.status_label, run.pid, run.end_ms) == (
        "succeeded", "Killed at its limit", 4242, END_MS,
    )  # fmt: skip
    modes = {summary.mode: summary for summary in run.modes}
    assert run.kept_answering == {"get_message", "thread"}
    assert modes["listen"].longest_gap_ms == PUBLISHED_AT_MS[3] + 3 - (PUBLISHED_AT_MS[2] + 3)
    assert all(summary.received == len(PUBLISH_AT_SECONDS) for summary in run.modes)
    assert modes["get_message"].answered == modes["get_message"].asked
    assert run.shows_the_freeze and saw_the_freeze(runs)
    assert (runs.prediction.observed, runs.prediction.right) == ("not-listen", True)
    assert [row.mode for row in run.chart.rows] == list(MODES)
    assert len(run.chart.published) == len(PUBLISH_AT_SECONDS)
    assert run.chart.rows[0].silences and not run.chart.rows[1].silences


def test_a_run_where_all_three_kept_answering_does_not_meet_the_goal():
    runs = ListenFold.fold(sandbox_run(answering=set(MODES)), now=100.0)
    assert ListenFold().observed(runs[0]) == "all" and runs.prediction.observed == "all"
    assert not saw_the_freeze(runs)


def test_a_run_still_going_answers_nothing_yet():
    # Its last event a few seconds ago: within the lab's deadline, so not lost.
    runs = ListenFold.fold(sandbox_run(answering={"thread"}, ended=False), now=10.0)
    (run,) = runs
    assert (run.status, run.active) == ("running", True)
    assert ListenFold().observed(run) is None and runs.prediction.observed is None
    assert not saw_the_freeze(runs)
