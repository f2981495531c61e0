import csv
import io

import pytest

from quiz.gradebook import COMPLETE_PERCENT, gradebook_rows
from quiz.services import VERDICTS
from quiz.staff import GRADEBOOK_CSV_HEADER

from .factory import (
    make_learner,
    make_question,
    make_quiz_lesson,
    make_started_attempt,
    make_submitted_attempt,
)

pytestmark = pytest.mark.django_db

PAGE = "/staff/quiz/gradebook/"
CSV_URL = "/staff/quiz/gradebook/export.csv"
RIGHT = {"first": "a", "second": "a"}  # 100%
HALF = {"first": "a", "second": "b"}  # 50%


@pytest.fixture
def lesson(tmp_path):
    return make_quiz_lesson(
        tmp_path, make_question("first"), make_question("second"), slug="graded"
    )


@pytest.fixture
def learners(lesson, django_user_model):
    """ada: 100% then 50% on tests; bob: only a quiz; an anonymous learner: one 50% test."""
    ada = make_learner()
    ada.user = django_user_model.objects.create_user("ada", password="x" * 12)
    ada.save()
    make_submitted_attempt(lesson=lesson, picks=RIGHT, mode="test", learner=ada)
    make_submitted_attempt(lesson=lesson, picks=HALF, mode="test", learner=ada)
    make_submitted_attempt(lesson=lesson, picks=RIGHT, mode="quiz", learner=ada)  # not a test
    bob = make_learner()
    bob.user = django_user_model.objects.create_user("bob", password="x" * 12)
    bob.save()
    make_submitted_attempt(lesson=lesson, picks=RIGHT, mode="quiz", learner=bob)
    anonymous = make_learner(key="f00dcafe" + "0" * 24)
    make_submitted_attempt(lesson=lesson, picks=HALF, mode="test", learner=anonymous)
    return ada, bob, anonymous


def test_completion_is_the_strong_verdicts_floor():
    assert COMPLETE_PERCENT == 80 == next(floor for floor, label in VERDICTS if label == "strong")


def test_best_and_latest_per_learner(lesson, learners):
    rows = gradebook_rows(lessons=[lesson])

    assert [row.name for row in rows] == ["ada", "bob", "anonymous f00dcafe"]
    best_then_worse, no_test, one_test = (row.cells[0] for row in rows)
    assert (best_then_worse.tests_taken, best_then_worse.best_percent) == (2, 100)
    assert best_then_worse.latest_percent == 50
    assert best_then_worse.complete
    assert (no_test.tests_taken, no_test.best_percent, no_test.latest_percent) == (0, None, None)
    assert not no_test.complete and no_test.latest_finished_at is None
    assert (one_test.tests_taken, one_test.best_percent, one_test.latest_percent) == (1, 50, 50)
    assert not one_test.complete


def test_learners_given_without_any_attempt_get_empty_cells(lesson, learners):
    nobody = make_learner()
    [row] = gradebook_rows(lessons=[lesson], learners=[nobody])
    assert row.name.startswith("anonymous ") and row.cells[0].tests_taken == 0


def test_an_unfinished_test_does_not_count(lesson):
    learner = make_learner()
    make_started_attempt(lesson=lesson, mode="test", learner=learner)
    [row] = gradebook_rows(lessons=[lesson])
    assert row.cells[0].tests_taken == 0


def test_staff_see_the_gradebook(staff_client, lesson, learners):
    response = staff_client.get(PAGE)
    page = response.content.decode()

    assert response.status_code == 200
    assert '<caption id="gradebook-title">' in page
    assert f'<th scope="col">{lesson.title}</th>' in page
    assert '<th scope="row">ada</th>' in page and '<th scope="row">anonymous f00dcafe</th>' in page
    assert "100% / 50%" in page and "50% / 50%" in page
    assert page.count('<strong class="right-mark">') == 1  # ada's cell only
    assert f"scored {COMPLETE_PERCENT}% or more" in page  # the definition is on the page
    assert "f00dcafe0000" not in page  # only the start of a key


def test_the_stats_page_links_to_the_gradebook(staff_client):
    assert f'href="{PAGE}"' in staff_client.get("/staff/quiz/").content.decode()


def test_csv_has_one_row_per_learner_and_lesson(staff_client, lesson, learners):
    ada, _bob, anonymous = learners
    response = staff_client.get(CSV_URL)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))

    assert rows[0] == GRADEBOOK_CSV_HEADER
    latest = ada.attempts.filter(mode="test").order_by("-finished_at").first().finished_at
    only = anonymous.attempts.get().finished_at
    assert rows[1:] == [
        ["ada", "ada", "graded", lesson.title, "2", "100", "50", latest.isoformat(), "yes"],
        ["bob", "bob", "graded", lesson.title, "0", "", "", "", "no"],
        ["anonymous f00dcafe", "", "graded", lesson.title, "1", "50", "50", only.isoformat(), "no"],
    ]


def test_csv_quotes_text_a_spreadsheet_would_run(staff_client, lesson, django_user_model):
    learner = make_learner()
    learner.user = django_user_model.objects.create_user("=cmd|x", password="x" * 12)
    learner.save()
    make_submitted_attempt(lesson=lesson, picks=RIGHT, mode="test", learner=learner)
    rows = list(csv.reader(io.StringIO(staff_client.get(CSV_URL).content.decode())))
    assert rows[1][:2] == ["'=cmd|x", "'=cmd|x"]


@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_queries_do_not_grow_with_learners(
    staff_client, lesson, url, django_assert_max_num_queries
):
    for _ in range(2):
        make_submitted_attempt(lesson=lesson, picks=HALF, mode="test")
    with django_assert_max_num_queries(5):
        assert staff_client.get(url).status_code == 200
    for _ in range(6):
        make_submitted_attempt(lesson=lesson, picks=RIGHT, mode="test")
    with django_assert_max_num_queries(5) as queries:
        assert staff_client.get(url).status_code == 200
    assert sum("GROUP BY" in query["sql"] for query in queries.captured_queries) == 1
