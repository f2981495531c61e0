"""A quiz started from a launch sends its real score to the platform's line item, from the
real Celery worker, over real HTTP."""

from io import StringIO

import pytest
from django.core.management import call_command

from lti.models import LtiAttempt
from lti.services import ScoreNotSent, score_send
from quiz.models import Attempt
from tests.stack import wait_until

from .platform import SCORE_SCOPE


def test_a_finished_quiz_sends_its_real_score_to_the_platform(
    client, workers, platform, quiz_lesson
):
    launched, _ = platform.launch(client, custom={"lesson": "lti-lesson", "mode": "quiz"})
    attempt = Attempt.objects.get()
    assert launched["Location"] == f"/attempts/{attempt.pk}/"
    # Two right answers ("a") and one wrong: 2 of 3, not mere completion.
    items = attempt.items.order_by("position")
    picks = {f"q{item.position}": "a" if item.position < 3 else "b" for item in items}
    assert client.post(f"/attempts/{attempt.pk}/submit/", picks).status_code == 302
    attempt.refresh_from_db()
    assert (attempt.score, attempt.max_score) == (2.0, 3)

    wait_until(lambda: platform.scores, seconds=15)
    [score] = platform.scores
    assert score["scoreGiven"] == attempt.score
    assert score["scoreMaximum"] == attempt.max_score
    assert score["userId"] == "student-1"
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["lineitem"] == "/lineitems/1"
    assert score["content_type"] == "application/vnd.ims.lis.v1.score+json"
    assert platform.token_requests == 1  # with a client assertion the platform verified
    wait_until(lambda: LtiAttempt.objects.filter(score_sent_at__isnull=False).exists())
    assert SCORE_SCOPE in LtiAttempt.objects.get().ags_scopes


def test_a_practice_attempt_or_a_quiz_begun_on_the_site_sends_nothing(
    client, platform, quiz_lesson, django_capture_on_commit_callbacks
):
    platform.launch(client, custom={"lesson": "lti-lesson", "mode": "lesson"})
    response = client.post("/lessons/lti-lesson/attempts/", {"mode": "quiz"})
    attempt = Attempt.objects.get(pk=response["Location"].strip("/").split("/")[-1])
    picks = {f"q{item.position}": "a" for item in attempt.items.all()}
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(f"/attempts/{attempt.pk}/submit/", picks)
    attempt.refresh_from_db()
    assert attempt.score == 3.0
    assert not LtiAttempt.objects.exists()
    assert len(callbacks) == 1  # the statistics refresh only, no score to send


def test_a_score_the_platform_refused_is_kept_and_sent_once_later(client, platform, quiz_lesson):
    platform.launch(client, custom={"lesson": "lti-lesson", "mode": "quiz"})
    attempt = Attempt.objects.get()
    picks = {f"q{item.position}": "b" for item in attempt.items.all()}
    client.post(f"/attempts/{attempt.pk}/submit/", picks)  # (no worker: this test sends)
    platform.score_failures = 1
    with pytest.raises(ScoreNotSent):
        score_send(attempt_id=attempt.pk)
    lti_attempt = LtiAttempt.objects.get()
    assert lti_attempt.score_sent_at is None
    assert "503" in lti_attempt.score_error
    assert platform.scores == []

    score_send(attempt_id=attempt.pk)  # what the task's retry does
    score_send(attempt_id=attempt.pk)  # a duplicate delivery of the task sends nothing more
    [score] = platform.scores
    assert (score["scoreGiven"], score["scoreMaximum"]) == (0.0, 3)
    lti_attempt.refresh_from_db()
    assert lti_attempt.score_sent_at is not None and lti_attempt.score_error == ""


def test_a_score_that_failed_in_the_worker_is_sent_by_lti_scores_send(
    client, workers, platform, quiz_lesson
):
    platform.score_failures = 1
    platform.launch(client, custom={"lesson": "lti-lesson", "mode": "quiz"})
    attempt = Attempt.objects.get()
    picks = {f"q{item.position}": "a" for item in attempt.items.all()}
    client.post(f"/attempts/{attempt.pk}/submit/", picks)
    wait_until(lambda: "503" in LtiAttempt.objects.get().score_error, seconds=15)
    assert platform.scores == []
    # The task's own retry waits 30 s: the command sends it first (and the retry, later,
    # finds it sent).

    out = StringIO()
    call_command("lti_scores_send", stdout=out)
    assert out.getvalue() == "1 score(s) queued.\n"
    wait_until(lambda: platform.scores, seconds=15)
    assert [(s["scoreGiven"], s["scoreMaximum"]) for s in platform.scores] == [(3.0, 3)]
    wait_until(lambda: LtiAttempt.objects.get().score_sent_at is not None)
    assert LtiAttempt.objects.get().score_error == ""
