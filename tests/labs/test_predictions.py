"""Predict, then observe, for every lab, through real processes: a lesson's question asked on the
lab's page, the learner's choice recorded, a real run, and the page comparing the two."""

import re
import time

from django.contrib.sessions.backends.db import SessionStore

from labs.lab_email import OUTCOMES as EMAIL_OUTCOMES
from labs.lab_lifecycle import OUTCOMES as LIFECYCLE_OUTCOMES
from learnsite.learners import SESSION_KEY
from quiz.models import Answer
from tests.http import LiveClient
from tests.lessons.factory import make_lesson, make_questions, predict_question_text
from tests.stack import load_course

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
    assert f"Prediction recorded: {label}" in recorded.text


def outcome_in(html: str) -> tuple[str, str] | None:
    """(predicted, observed) outcome codes, as the runs partial shows them once paired."""
    found = re.search(r'data-prediction="([^"]+)" data-observed="([^"]+)"', html)
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
