"""Grading costs the same few queries however many questions an attempt has: answers are
stored, and reviews read and written, in bulk (behaviour checked here, not time)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from authoring.content import content_load
from quiz.api import api_token_issue
from quiz.models import Answer, ReviewItem
from tests.authoring.factory import make_lesson, make_questions, question_text
from tests.quiz.test_api import call, make_user


def queries_to_grade(client, token: str, slug: str, pick: str) -> tuple[list[int], dict]:
    """Queries of starting a quiz and of submitting ``pick`` to every question, and the graded
    attempt."""
    counts = []
    with CaptureQueriesContext(connection) as started:
        response = call(client, "POST", "attempts", {"lesson": slug, "mode": "quiz"}, token=token)
    assert response.status_code == 201, response.content
    counts.append(len(started))
    attempt = response.json()
    answers = {str(question["position"]): [pick] for question in attempt["questions"]}
    with CaptureQueriesContext(connection) as submitted:
        response = call(client, "POST", f"attempts/{attempt['id']}/submit", {"answers": answers},
                        token=token)  # fmt: skip
    assert response.status_code == 200, response.content
    counts.append(len(submitted))
    return counts, response.json()


def test_a_submission_takes_as_many_queries_for_six_questions_as_for_two(client, db, tmp_path):
    token = api_token_issue(user=make_user())
    call(client, "GET", "attempts/1", token=token)  # the learner is made on the first request
    counts = {}
    for size in (2, 6):
        slug = f"queries-{size}"
        questions = [question_text(qid=f"{slug}-{n}") for n in range(size)]
        make_questions(make_lesson(tmp_path / "course", slug=slug, order=size), *questions)
    content_load(root=tmp_path)
    for size in (2, 6):
        # All wrong (each question's review is created), then all right (each one updated).
        missed, graded = queries_to_grade(client, token, f"queries-{size}", pick="b")
        assert graded["score"] == 0
        assert Answer.objects.filter(item__attempt_id=graded["id"]).count() == size
        known, graded = queries_to_grade(client, token, f"queries-{size}", pick="a")
        assert graded["score"] == size and len(graded["questions"]) == size
        counts[size] = missed + known
    assert ReviewItem.objects.filter(interval_days__gt=0).count() == 2 + 6
    assert counts[6] == counts[2], counts


def test_a_test_is_started_and_submitted_with_11_queries(client, db, tmp_path, settings):
    """The queries of the bench's path (bench/grading.py): a token, a test of 10 questions
    started and submitted whole. Each one added costs every graded answer on a loaded site."""
    settings.CONTENT_VERSION_SECONDS = 60  # as served: the content version is read now and then
    token = api_token_issue(user=make_user())
    call(client, "GET", "attempts/1", token=token)  # the learner is made on the first request
    questions = [question_text(qid=f"pinned-{n}") for n in range(12)]
    make_questions(make_lesson(tmp_path / "course", slug="pinned"), *questions)
    content_load(root=tmp_path)
    counts, graded = [], {}
    for _ in range(2):  # the first misses every question (reviews made), the second updates them
        with CaptureQueriesContext(connection) as started:
            response = call(client, "POST", "attempts", {"lesson": "pinned", "mode": "test"},
                            token=token)  # fmt: skip
        assert response.status_code == 201, response.content
        attempt = response.json()
        answers = {str(q["position"]): ["b"] for q in attempt["questions"]}
        with CaptureQueriesContext(connection) as submitted:
            response = call(client, "POST", f"attempts/{attempt['id']}/submit",
                            {"answers": answers}, token=token)  # fmt: skip
        assert response.status_code == 200, response.content
        graded = response.json()
        # Not the savepoints of the two transactions (the test runs in one).
        counts.append([query["sql"] for query in (*started, *submitted)
                       if query["sql"].split()[0] not in ("SAVEPOINT", "RELEASE")])  # fmt: skip
    assert len(graded["questions"]) == 10 and graded["score"] == 0
    assert Answer.objects.filter(item__attempt_id=graded["id"]).count() == 10
    # The first start of a content version reads it, the lesson and its questions once for
    # the process, and the first ever renders the questions and stores them (one query). Then
    # 3 to start (learner, attempt, its questions), 8 to submit (learner, the attempt locked,
    # its questions, answers, reviews read and written, score, LTI).
    assert len(counts[0]) == 3 + 1 + 11, counts[0]
    assert len(counts[1]) == 11, counts[1]
