"""The course's own predictions, checked against the real labs: for each lesson's `predict`
question, a learner opens the lab from that lesson, predicts the option the author marked right,
does what the question says, and the page must show that the run came out that way.

The marked option and its outcome code come from the content files; only what the learner does
is written here, per lesson.
"""

import functools
import re
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from django.conf import settings
from django.db import connections

from authoring.content import OPTION_KEYS, content_validate
from learnsite.celery import app as celery_app
from quiz.models import Answer, Question
from tests.http import LiveClient, frame_until
from tests.labs.test_lifecycle_lab import start as lifecycle_start
from tests.labs.test_listen_lab import start as listen_start
from tests.labs.test_pools_lab import run_cpu_on_threads
from tests.labs.test_predictions import (
    asked_version,
    console,
    lab_learner,
    outcome_in,
    started_run,
    wait_for,
)
from tests.labs.test_pubsub_lab import feed, send
from tests.labs.test_stream_drop import frames_until_running, frames_until_the_end
from tests.stack import load_course

COURSES, _ERRORS = content_validate(root=settings.CONTENT_DIR)  # test_course.py checks them
PREDICTIONS = {
    lesson.meta["slug"]: question
    for course in COURSES
    for lesson in course.lessons
    for question in lesson.questions
    if "predict" in question.meta.get("sets", [])
}


def send_in_the_background(client: LiveClient) -> None:
    sent = client.htmx_post("/labs/email/send-in-background/", {"latency_ms": "300"})
    assert sent.status == 200, sent.text


def worker_idle() -> bool:
    """Every worker answers, and none runs, has reserved or holds (ETA) a task."""
    inspect = celery_app.control.inspect(timeout=1)
    replies = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    return all(replies) and not any(tasks for reply in replies for tasks in reply.values())


def send_with_a_countdown(client: LiveClient) -> None:
    wait_for(worker_idle)  # the question's "while a worker is running and idle"
    started_run(client.htmx_post("/labs/broker/start/", {"hold": "10"}))
    # The page reads Redis at once (hx-trigger "broker-queued"), then every second.
    assert client.get("/labs/broker/redis/").status == 200


def start_then_cancel(client: LiveClient) -> None:
    run_id = lifecycle_start(client, "retry-once")
    cancelled = client.htmx_post("/labs/lifecycle/cancel/", {"run": run_id})
    assert cancelled.status == 200, cancelled.text


def overrun_its_time_limit(client: LiveClient) -> None:
    lifecycle_start(client, "overrun")


def publish_to_one_tab(client: LiveClient) -> None:
    tab = feed(client, "updates", "a1b2")  # the page open in one tab, subscribed to updates
    published = send(client, "updates", "who hears this?")
    tab.close()
    assert published.status == 200, published.text


def run_the_sandbox(client: LiveClient) -> None:
    listen_start(client)


def drop_the_stream_mid_run(client: LiveClient) -> None:
    stream = client.events("/streams/labs/ping/events/")
    next(stream)  # connected
    assert client.htmx_post("/labs/ping/start/").status == 200
    seen = frames_until_running(stream)
    assert client.htmx_post("/labs/ping/drop/").status == 200
    seen += frames_until_the_end(stream)
    # The browser reconnects by itself, with the id of the last frame it had.
    last = [event for event in seen if event.id][-1]
    resumed = client.events("/streams/labs/ping/events/", last_event_id=last.id)
    next(resumed)  # the server has recorded the resume
    resumed.close()


def lpush_three_then_rpop(client: LiveClient) -> None:
    for line in ("DEL jobs", "LPUSH jobs one two three", "RPOP jobs"):
        console(client, line)


def run_one_queue(client: LiveClient) -> None:
    started_run(client.htmx_post("/labs/routing/start/", {"setup": "one-queue"}))


def stop_cold_while_a_acks_late_runs(client: LiveClient) -> None:
    started = client.htmx_post("/labs/deploy/start/", {"late": "A", "stop": "cold"})
    assert started.status == 200, started.text


def send_a_burst_of_50_at_10(client: LiveClient) -> None:
    started = client.htmx_post("/labs/watch/start/", {"burst": "50", "threshold": "10"})
    assert started.status == 200, started.text


def crash_without_persistence(client: LiveClient) -> None:
    started = client.htmx_post("/labs/failure/start/", {"mode": "none"})
    assert started.status == 200, started.text


# What each lesson's question tells the learner to do, by lesson slug (lessons 3 and 4 both
# predict in the lifecycle lab, each with its own action).
ACTIONS = {
    "offloading-slow-work": send_in_the_background,
    "how-celery-uses-redis": send_with_a_countdown,
    "task-states-and-results": start_then_cancel,
    "when-tasks-fail": overrun_its_time_limit,
    "publish-and-subscribe": publish_to_one_tab,
    "listeners-off-the-request-thread": run_the_sandbox,
    "streaming-to-the-browser": drop_the_stream_mid_run,
    "choosing-a-redis-structure": lpush_three_then_rpop,
    "routing-queues-and-priorities": run_one_queue,
    "worker-pools-and-concurrency": run_cpu_on_threads,
    "watching-a-live-system": send_a_burst_of_50_at_10,
    "when-redis-fails": crash_without_persistence,
    "deploying-and-securing-workers": stop_cold_while_a_acks_late_runs,
}


def test_every_prediction_of_the_course_has_its_action():
    assert set(PREDICTIONS) == set(ACTIONS)


def prediction_check(lesson: str, live_url: str) -> None:
    """A learner opens the lesson's lab, predicts the marked option, does what the question
    says, and the page must show the run came out that way (raises AssertionError if not)."""
    source = PREDICTIONS[lesson]
    lab, qid = source.meta["lab"], source.meta["id"]
    [marked] = [index for index, option in enumerate(source.options) if option.correct]
    choice, expected = OPTION_KEYS[marked], source.meta["observes"][marked]
    client = lab_learner(live_url, lab)

    # The lab reached from the lesson asks that lesson's question; the learner picks the mark.
    page = client.get(f"/labs/{lab}/?lesson={lesson}").text
    version = asked_version(page)
    assert version == str(Question.objects.get(key=qid).current_version_id)
    answer = {"version": version, "choice": choice, "lesson": lesson}
    recorded = client.htmx_post(f"/labs/{lab}/predict/", answer)
    assert recorded.status == 200, recorded.text

    ACTIONS[lesson](client)

    stream = client.events(f"/streams/labs/{lab}/events/")
    frame = frame_until(stream, outcome_in)
    stream.close()
    assert outcome_in(frame) == (expected, expected), frame
    assert ": right." in frame
    outcome = re.search(r'<p class="prediction-outcome".*?</p>', frame, re.S)[0]
    said = re.sub(r"<[^>]+>", "", outcome)
    assert not re.search(r"[.?!][.;:]", said), said  # the option's full stop, then the page's
    assert "Prediction recorded:" in recorded.text and ".." not in recorded.text
    answered = Answer.objects.get(item__attempt__learner__key=client.learner_key())
    assert (answered.item.version.question.key, answered.chosen, answered.correct) == (
        qid, [choice], True,
    )  # fmt: skip


def prediction_in_thread(lesson: str, live_url: str) -> None:
    try:
        prediction_check(lesson, live_url)
    finally:
        connections.close_all()  # this thread's own database connection


# The predictions mostly wait (a worker's start, a countdown, a lab's private Redis and
# workers), so they run a few at a time, as the course's examples do (test_course.py), each
# with a learner of its own, on the course loaded once. The database is flushed after each
# test (they use the live server), so all of them run to the end before the first test;
# each test then takes its own lesson's result. Under pytest-xdist they stay on one worker (the
# group). Lesson 2's is asked "while a worker is running and idle": it runs before the others.
PREDICTIONS_AT_ONCE = 4
ALONE = ("how-celery-uses-redis",)


@pytest.fixture(scope="module")
def prediction_results(request, live_url, redis_url, mail_server, django_db_blocker) -> dict:
    """The selected lessons' predictions, run: a finished future for each."""
    chosen = [
        item.callspec.params["lesson"]
        for item in request.session.items
        if item.module is request.module
        and item.originalname == "test_the_answer_marked_right_is_what_the_lab_shows"
    ]
    with django_db_blocker.unblock():
        load_course(settings.CONTENT_DIR, redis_url)
        with ThreadPoolExecutor(PREDICTIONS_AT_ONCE, thread_name_prefix="prediction") as pool:
            run = functools.partial(pool.submit, prediction_in_thread, live_url=live_url)
            results = {lesson: run(lesson) for lesson in chosen if lesson in ALONE}
            wait(results.values())
            results |= {lesson: run(lesson) for lesson in chosen if lesson not in ALONE}
        # (leaving the pool waits for every run to end)
    return results


@pytest.mark.xdist_group("course-predictions")
@pytest.mark.parametrize("lesson", list(PREDICTIONS))
def test_the_answer_marked_right_is_what_the_lab_shows(lesson, prediction_results):
    prediction_results[lesson].result()  # raises what failed in its run
