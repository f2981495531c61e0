"""Predict, then observe, for every lab, through real processes: a lesson's question asked on the
lab's page, the learner's choice recorded, a real run, and the page comparing the two."""

import html
import re
import time

import redis

from labs.kinds.broker.fold import BrokerFold
from labs.kinds.console.fold import ConsoleFold
from labs.kinds.email.fold import EmailFold
from labs.kinds.lifecycle.fold import LifecycleFold
from labs.kinds.ping.fold import PingFold
from quiz.models import Answer, Question
from tests.authoring.factory import make_lesson, make_questions, predict_question_text
from tests.http import LiveClient, frame_until
from tests.labs.ping_support import run_id_of
from tests.stack import load_course, redis_service, web_service, worker_service

LIFECYCLE_OUTCOMES = LifecycleFold.outcomes

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


def test_the_email_lab_compares_the_request_time_with_the_mail_servers_latency(
    live_url, mail_server, redis_url, tmp_path
):
    load_prediction(tmp_path, redis_url, lab="email", outcomes=EmailFold.outcomes, expected="waits")
    client = lab_learner(live_url, "email")
    predict(client, "email", EmailFold.outcomes["returns"])
    stream = client.events("/streams/labs/email/events/")
    sent = client.htmx_post("/labs/email/send-now/", {"latency_ms": "100"})
    assert sent.status == 200, sent.text
    run_id = re.search(r'data-run-id="(\w+)"', sent.text).group(1)

    frame = frame_until(stream, outcome_in)
    stream.close()
    assert outcome_in(frame) == ("returns", "waits")
    assert f'data-run="{run_id}"' in frame
    assert "the run showed <strong>The request waits for the mail server</strong>" in frame
    answer = Answer.objects.get(item__attempt__learner__key=client.learner_key())
    assert answer.chosen == ["b"] and not answer.correct


def test_the_lifecycle_lab_answers_with_the_next_single_task_that_ends(
    live_url, redis_url, tmp_path
):
    load_prediction(
        tmp_path, redis_url, lab="lifecycle", outcomes=LIFECYCLE_OUTCOMES, expected="retry-success"
    )
    client = lab_learner(live_url, "lifecycle")
    predict(client, "lifecycle", LIFECYCLE_OUTCOMES["success"])
    stream = client.events("/streams/labs/lifecycle/events/")
    # A group ends, but says nothing of how one task ends: the prediction waits for the task.
    group = client.htmx_post("/labs/lifecycle/canvas/", {"shape": "group"})
    group_id = re.search(r"Run (\w+) is on the queue", group.text).group(1)
    ended = frame_until(stream, lambda data: f'state-success" id="run-{group_id}"' in data)
    page = client.get("/labs/lifecycle/").text
    assert outcome_in(ended) is None
    assert outcome_in(page) is None and 'data-prediction="success"' in page
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
    load_prediction(
        tmp_path, redis_url, lab="broker", outcomes=BrokerFold.outcomes, expected="unacked"
    )
    client = lab_learner(base_url, "broker")

    # No worker yet: nobody holds the task, and the page's read finds it in the list.
    predict(client, "broker", BrokerFold.outcomes["unacked"])
    first = started_run(client.htmx_post("/labs/broker/start/", {"hold": "10"}))
    page = client.get("/labs/broker/").text
    assert 'data-phase="list"' in page
    assert outcome_in(page) == ("unacked", "list") and f'data-run="{first}"' in page

    # A worker takes each countdown task at once and holds it, a copy in unacked, until its ETA.
    start_services(worker_service(redis_url))
    predict(client, "broker", BrokerFold.outcomes["list"])
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


def test_the_console_compares_the_job_a_pop_takes_with_the_order_they_were_pushed():
    # Pure: the console's events as it records them (the course's own console prediction runs
    # through the real labs in test_course_predictions.py).
    def command(n: int, name: str, **facts) -> tuple[str, dict]:
        event = {"kind": "command", "at": float(n), "status": "ok", "name": name, "line": "",
                 "text": "", "facts": facts}  # fmt: skip
        return (f"{n}-0", {"lab": "console", **event})

    def predicted(n: int, choice: str) -> tuple[str, dict]:
        return (f"{n}-0", {"lab": "console", "kind": "predicted", "at": float(n), "choice": choice})

    events = [
        predicted(1, "last"),
        command(2, "LPUSH", key="jobs", values=["one", "two"]),
        command(3, "LPUSH", key="jobs", values=["three"]),
        command(4, "LLEN"),  # not a pop: says nothing
    ]
    prediction = ConsoleFold.fold(events, now=100.0).prediction
    assert (prediction.choice, prediction.observed) == ("last", None)
    events.append(command(5, "RPOP", key="jobs", values=["one"]))
    prediction = ConsoleFold.fold(events, now=100.0).prediction
    assert (prediction.choice, prediction.observed, prediction.run) == ("last", "first", "5-0")
    assert prediction.choice_label == ConsoleFold.outcomes["last"] and not prediction.right

    events += [predicted(6, "nil"), command(7, "BRPOP", values=[])]
    prediction = ConsoleFold.fold(events, now=100.0).prediction
    assert (prediction.choice, prediction.observed, prediction.right) == ("nil", "nil", True)


def lifecycle_events(*events: tuple) -> list[tuple[str, dict]]:
    """Lifecycle lab events, one a second: ("predicted", choice), ("queued", run[, shape]) or
    (state, run) for a state the worker reports."""
    folded = []
    for second, (kind, value, *shape) in enumerate(events, start=1):
        if kind == "predicted":
            event = {"kind": kind, "choice": value}
        elif kind == "queued":
            event = {"kind": kind, "run": value, "options": {"shape": shape[0]} if shape else {}}
        else:
            event = {"kind": "state", "run": value, "state": kind}
        folded.append((f"{second}-0", {"lab": "lifecycle", "at": float(second), **event}))
    return folded


def test_a_prediction_is_answered_by_the_first_run_begun_after_it_that_shows_an_outcome():
    events = lifecycle_events(
        ("queued", "before"),
        ("predicted", "success"),
        ("queued", "group", "group"),
        ("queued", "slow"),
        ("queued", "fast"),
        ("SUCCESS", "before"),  # begun before the prediction: not its run
        ("SUCCESS", "group"),  # a group: says nothing of how one task ends
        ("FAILURE", "fast"),
        ("SUCCESS", "slow"),  # ends after "fast": too late
    )
    prediction = LifecycleFold.fold(events, now=100.0).prediction
    assert (prediction.choice, prediction.observed, prediction.run) == (
        "success",
        "failure",
        "fast",
    )
    assert not prediction.right and prediction.observed_label == "FAILURE"


def test_a_newer_prediction_replaces_one_still_waiting_and_waits_for_its_own_run():
    events = lifecycle_events(
        ("predicted", "success"),
        ("predicted", "revoked"),
        ("queued", "run"),
        ("RETRY", "run"),
        ("STARTED", "run"),
    )
    waiting = LifecycleFold.fold(events, now=100.0).prediction
    assert (waiting.choice, waiting.observed) == ("revoked", None)
    answered = LifecycleFold.fold([*events, *lifecycle_events(("SUCCESS", "run"))], now=100.0)
    assert answered.prediction.observed == "retry-success"


def test_a_console_pop_is_compared_with_the_order_of_the_lists_lpushes():
    def took(*lines: tuple[str, str, list]) -> list[str]:
        events = [
            (f"{n}-0", {"lab": "console", "kind": "command", "at": float(n), "status": "ok",
                        "name": name, "line": "", "text": "",
                        "facts": {"keys": [key]} if name == "DEL" else {"key": key,
                                                                       "values": values}})
            for n, (name, key, values) in enumerate(lines, start=1)
        ]  # fmt: skip
        return [entry.took for entry in ConsoleFold.fold(events, now=100.0)]

    assert took(("LPUSH", "jobs", ["a", "b", "c"]), ("RPOP", "jobs", ["a"])) == ["", "first"]
    assert took(("LPUSH", "jobs", ["a", "b"]), ("BRPOP", "jobs", ["b"]))[-1] == "last"
    assert took(("RPOP", "jobs", []))[-1] == "nil"
    # One job waiting is the first and the last: that pop says neither.
    assert took(("LPUSH", "jobs", ["a"]), ("RPOP", "jobs", ["a"]))[-1] == ""
    # What was taken is gone: the next pop is compared with what is left.
    lines = [("LPUSH", "jobs", ["a", "b", "c"]), ("RPOP", "jobs", ["a"]), ("LPOP", "jobs", ["c"])]
    assert took(*lines, ("LPUSH", "jobs", ["d"]), ("RPOP", "jobs", ["b"]))[-1] == "first"
    assert took(("LPUSH", "jobs", ["a", "b"]), ("RPOP", "other", ["x"]))[-1] == ""
    # A deleted list starts again: jobs left over before the DEL are not the first pushed.
    lines = [("LPUSH", "jobs", ["old"]), ("DEL", "jobs", None), ("LPUSH", "jobs", ["a", "b"])]
    assert took(*lines, ("RPOP", "jobs", ["a"]))[-1] == "first"


def make_two_lifecycle_lessons(folder, redis_url: str) -> tuple[Question, Question]:
    """Lessons 3 and 4 of a course, each with a prediction for the lifecycle lab; the second
    places the lab on its page."""
    options = {code: f"{label}." for code, label in LIFECYCLE_OUTCOMES.items()}
    lab_block = "Watch it for real.\n\n```lab\nkind: lifecycle\n```"
    slugs = ("lesson-three", "lesson-four")
    for slug, order, expected in zip(slugs, (3, 4), ("success", "failure"), strict=True):
        section = {"Check it yourself": lab_block}
        lesson = make_lesson(folder / "course", slug=slug, order=order, sections=section)
        question = predict_question_text(
            qid=f"{slug}-predicts", lab="lifecycle", options=options, expected=expected
        )
        make_questions(lesson, question)
    load_course(folder, redis_url)
    three, four = (Question.objects.get(key=f"{slug}-predicts") for slug in slugs)
    return three, four


def test_a_lab_reached_from_a_lesson_asks_that_lessons_prediction(live_url, redis_url, tmp_path):
    three, four = make_two_lifecycle_lessons(tmp_path, redis_url)
    client = lab_learner(live_url, "lifecycle")
    lesson_page = client.get("/lessons/lesson-four/").text
    assert 'href="/labs/lifecycle/?lesson=lesson-four"' in lesson_page

    from_four = client.get("/labs/lifecycle/?lesson=lesson-four").text
    assert asked_version(from_four) == str(four.current_version_id)
    assert '<input type="hidden" name="lesson" value="lesson-four">' in from_four
    # Reached otherwise (or from a lesson with none), the lab asks the first in course order.
    assert asked_version(client.get("/labs/lifecycle/").text) == str(three.current_version_id)
    from_elsewhere = client.get("/labs/lifecycle/?lesson=no-such-lesson").text
    assert asked_version(from_elsewhere) == str(three.current_version_id)

    # Either lesson's question is one this lab asks: both are recorded.
    for question in (four, three):
        answer = {"version": str(question.current_version_id), "choice": "a"}
        assert client.htmx_post("/labs/lifecycle/predict/", answer).status == 200
    answered = Answer.objects.filter(item__attempt__learner__key=client.learner_key())
    assert sorted(a.item.version.question.key for a in answered) == [
        "lesson-four-predicts", "lesson-three-predicts",
    ]  # fmt: skip

    # Without JavaScript, the answer goes back to the lab as reached from the lesson.
    plain = {"version": str(four.current_version_id), "choice": "b", "lesson": "lesson-four"}
    redirected = client.request(
        "POST", "/labs/lifecycle/predict/", data=plain,
        headers={"X-CSRFToken": client.csrf_token()},
    )  # fmt: skip
    assert redirected.status == 200
    assert "Prediction recorded: RETRY, then SUCCESS" in html.unescape(redirected.text)
    assert asked_version(redirected.text) == str(four.current_version_id)


def test_a_version_this_lab_does_not_ask_is_refused_with_a_message(live_url, redis_url, tmp_path):
    three, _four = make_two_lifecycle_lessons(tmp_path, redis_url)
    other_lab = predict_question_text(
        qid="pubsub-predicts", lab="pubsub", options={"0": "None.", "1": "One."}, expected="1"
    )
    make_questions(make_lesson(tmp_path / "other", slug="pubsub-lesson"), other_lab)
    old_version = three.current_version_id
    # The author edits lesson three's question: a new version; the old one is no longer asked.
    questions = next((tmp_path / "course").glob("*lesson-three.questions.md"))
    questions.write_text(questions.read_text().replace("Pick one.", "Pick the one you expect."))
    load_course(tmp_path, redis_url)
    three.refresh_from_db()
    assert three.current_version_id != old_version
    client = lab_learner(live_url, "lifecycle")

    for version in (
        Question.objects.get(key="pubsub-predicts").current_version_id,  # another lab's
        old_version,  # retired
        "not-a-number",
    ):
        refused = client.htmx_post("/labs/lifecycle/predict/", {"version": version, "choice": "a"})
        assert refused.status == 400
        assert "The question has changed since the page was loaded: reload the page" in (
            refused.text
        )
    unknown = client.htmx_post(
        "/labs/lifecycle/predict/", {"version": three.current_version_id, "choice": "z"}
    )
    assert unknown.status == 400 and "Choose one of the answers" in unknown.text
    assert not Answer.objects.filter(item__attempt__learner__key=client.learner_key()).exists()
    assert client.htmx_post("/labs/nothing/predict/", {}).status == 404


def test_a_lab_without_a_prediction_question_refuses_one(live_url):
    client = lab_learner(live_url, "ping")
    refused = client.htmx_post("/labs/ping/predict/", {"version": "1", "choice": "a"})
    assert refused.status == 400 and "This lab asks no prediction now" in refused.text


def test_a_prediction_needs_the_csrf_token(live_url, redis_url, tmp_path):
    three, _four = make_two_lifecycle_lessons(tmp_path, redis_url)
    client = lab_learner(live_url, "lifecycle")
    answer = {"version": str(three.current_version_id), "choice": "a"}
    forged = client.request(
        "POST", "/labs/lifecycle/predict/", data=answer, headers={"HX-Request": "true"}
    )
    assert forged.status == 403
    assert not Answer.objects.filter(item__attempt__learner__key=client.learner_key()).exists()


def test_the_ping_lab_shows_what_a_dropped_and_resumed_stream_showed_of_the_run(
    learner, redis_url, tmp_path
):
    load_prediction(tmp_path, redis_url, lab="ping", outcomes=PingFold.outcomes, expected="all")
    predict(learner, "ping", PingFold.outcomes["gap"])
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)  # connected
    run_id = run_id_of(learner.htmx_post("/labs/ping/start/").text)
    seen = []
    for event in stream:
        seen.append(event)
        if event.event == "runs" and ">Running<" in event.data:
            break
    assert outcome_in(seen[-1].data) is None
    assert learner.htmx_post("/labs/ping/drop/").status == 200
    seen += list(stream)  # what it still sends before the server ends it

    # The browser comes back with the id of the last frame it had: the resume is recorded.
    last = [event for event in seen if event.id][-1]
    resumed = learner.events("/streams/labs/ping/events/", last_event_id=last.id)
    frame = frame_until(resumed, outcome_in)
    resumed.close()
    assert outcome_in(frame) == ("gap", "all") and f'data-run="{run_id}"' in frame
    assert "the run showed <strong>Every step, once</strong>" in frame
