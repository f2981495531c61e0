"""Predict, then observe, for every lab, through real processes: a lesson's question asked on the
lab's page, the learner's choice recorded, a real run, and the page comparing the two."""

import html
import re
import time

import redis
from django.contrib.sessions.backends.db import SessionStore

from labs.lab_broker import OUTCOMES as BROKER_OUTCOMES
from labs.lab_console import OUTCOMES as CONSOLE_OUTCOMES
from labs.lab_email import OUTCOMES as EMAIL_OUTCOMES
from labs.lab_lifecycle import OUTCOMES as LIFECYCLE_OUTCOMES
from learnsite.learners import SESSION_KEY
from quiz.models import Answer
from tests.http import LiveClient
from tests.lessons.factory import make_lesson, make_questions, predict_question_text
from tests.stack import load_course, redis_service, web_service, worker_service

WAIT_SECONDS = 60


def load_prediction(folder, redis_url: str, *, lab: str, outcomes: dict, expected: str) -> None:
    """A lesson whose questions hold a prediction for ``lab``, one option per outcome."""
    options = {code: f"{label}." for code, label in outcomes.items()}
    question = predict_question_text(lab=lab, options=options, expected=expected)
    make_questions(make_lesson(folder / "course", slug=f"{lab}-predicting"), question)
    load_course(folder, redis_url)


def lab_learner(base_url: str, lab: str) -> LiveClient:
    client = LiveClient(base_url)
    assert client.get(f"/labs/{lab}/").status == 200
    return client


def asked_version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def option_key(page: str, label: str) -> str:
    """The option key of the prediction option that says ``label``."""
    return re.search(rf'name="choice" value="(\w+)" required> {re.escape(label)}', page).group(1)


def predict(client: LiveClient, lab: str, label: str) -> None:
    page = client.get(f"/labs/{lab}/").text
    choice = {"version": asked_version(page), "choice": option_key(page, label)}
    recorded = client.htmx_post(f"/labs/{lab}/predict/", choice)
    assert recorded.status == 200, recorded.text
    assert f"Prediction recorded: {label}" in html.unescape(recorded.text)


def outcome_in(text: str) -> tuple[str, str] | None:
    """(predicted, observed) outcome codes, as the runs partial shows them once paired."""
    found = re.search(r'data-prediction="([^"]+)" data-observed="([^"]+)"', text)
    return (found.group(1), found.group(2)) if found else None


def frame_until(stream, predicate) -> str:
    """The lab stream's first "runs" frame that ``predicate`` accepts (bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    for event in stream:
        if event.event == "runs" and predicate(event.data):
            return event.data
        assert time.monotonic() < deadline, "no such frame in time"
    raise AssertionError("the stream ended")


def learner_key(client: LiveClient) -> str:
    session_key = next(cookie.value for cookie in client.cookies if cookie.name == "sessionid")
    return SessionStore(session_key=session_key)[SESSION_KEY]


def test_the_email_lab_compares_the_request_time_with_the_mail_servers_latency(
    live_url, mail_server, redis_url, tmp_path
):
    load_prediction(tmp_path, redis_url, lab="email", outcomes=EMAIL_OUTCOMES, expected="waits")
    client = lab_learner(live_url, "email")
    predict(client, "email", EMAIL_OUTCOMES["returns"])
    stream = client.events("/labs/email/events/")
    sent = client.htmx_post("/labs/email/send-now/", {"latency_ms": "100"})
    assert sent.status == 200, sent.text
    run_id = re.search(r'data-run-id="(\w+)"', sent.text).group(1)

    frame = frame_until(stream, outcome_in)
    stream.close()
    assert outcome_in(frame) == ("returns", "waits")
    assert f'data-run="{run_id}"' in frame
    assert "the run showed <strong>The request waits for the mail server</strong>" in frame
    answer = Answer.objects.get(item__attempt__learner__key=learner_key(client))
    assert answer.chosen == ["b"] and not answer.correct


def test_the_lifecycle_lab_answers_with_the_next_single_task_that_ends(
    live_url, redis_url, tmp_path
):
    load_prediction(
        tmp_path, redis_url, lab="lifecycle", outcomes=LIFECYCLE_OUTCOMES, expected="retry-success"
    )
    client = lab_learner(live_url, "lifecycle")
    predict(client, "lifecycle", LIFECYCLE_OUTCOMES["success"])
    stream = client.events("/labs/lifecycle/events/")
    # A group ends, but says nothing of how one task ends: the prediction waits for the task.
    group = client.htmx_post("/labs/lifecycle/canvas/", {"shape": "group"})
    group_id = re.search(r"Run (\w+) is on the queue", group.text).group(1)
    ended = frame_until(stream, lambda data: f'state-success" id="run-{group_id}"' in data)
    assert outcome_in(ended) is None and 'data-prediction="success"' in ended
    task = client.htmx_post("/labs/lifecycle/start/", {"behaviour": "retry-once"})
    task_id = re.search(r"Run (\w+) is on the queue", task.text).group(1)

    frame = frame_until(stream, outcome_in)
    stream.close()
    assert outcome_in(frame) == ("success", "retry-success")
    assert f'data-run="{task_id}"' in frame
    assert "the run showed <strong>RETRY, then SUCCESS</strong>" in frame


def started_run(response) -> str:
    assert response.status == 200, response.text
    return re.search(r"Run (\w+) is on the queue", response.text).group(1)


def wait_for(predicate) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def test_the_broker_lab_observes_where_its_first_read_finds_a_held_task(start_services, tmp_path):
    redis_server, redis_url = redis_service()
    start_services(redis_server)
    web, base_url = web_service(redis_url)
    start_services(web)
    load_prediction(tmp_path, redis_url, lab="broker", outcomes=BROKER_OUTCOMES, expected="unacked")
    client = lab_learner(base_url, "broker")

    # No worker yet: nobody holds the task, and the page's read finds it in the list.
    predict(client, "broker", BROKER_OUTCOMES["unacked"])
    first = started_run(client.htmx_post("/labs/broker/start/", {"hold": "10"}))
    page = client.get("/labs/broker/").text
    assert 'data-phase="list"' in page
    assert outcome_in(page) == ("unacked", "list") and f'data-run="{first}"' in page

    # A worker takes each countdown task at once and holds it, a copy in unacked, until its ETA.
    start_services(worker_service(redis_url))
    predict(client, "broker", BROKER_OUTCOMES["list"])
    second = started_run(client.htmx_post("/labs/broker/start/", {"hold": "10"}))
    held = redis.Redis.from_url(redis_url)
    wait_for(lambda: held.hlen("unacked") == 2)
    page = client.get("/labs/broker/").text
    assert 'data-phase="held"' in page
    assert outcome_in(page) == ("list", "unacked") and f'data-run="{second}"' in page
    # Later reads change nothing: the first read while held is the one observed.
    assert outcome_in(client.get("/labs/broker/").text) == ("list", "unacked")


def console(client: LiveClient, line: str) -> None:
    assert client.htmx_post("/labs/console/run/", {"line": line}).status == 200


def test_the_console_compares_the_job_a_pop_takes_with_the_order_they_were_pushed(
    live_url, redis_url, tmp_path
):
    load_prediction(tmp_path, redis_url, lab="console", outcomes=CONSOLE_OUTCOMES, expected="first")
    client = lab_learner(live_url, "console")
    predict(client, "console", CONSOLE_OUTCOMES["last"])
    console(client, "LPUSH jobs one two")
    console(client, "LPUSH jobs three")
    console(client, "LLEN jobs")  # not a pop: says nothing
    assert outcome_in(client.get("/labs/console/").text) is None
    console(client, "RPOP jobs")
    assert outcome_in(client.get("/labs/console/").text) == ("last", "first")

    predict(client, "console", CONSOLE_OUTCOMES["nil"])
    console(client, "BRPOP nothing-here 0.1")
    assert outcome_in(client.get("/labs/console/").text) == ("nil", "nil")
