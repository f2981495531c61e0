import csv
import io

import pytest
from django.contrib import admin

from authoring.content import content_load
from quiz.staff import CSV_HEADER
from quiz.stats import question_stats_refresh
from tests.authoring.factory import make_questions

from .factory import make_question, make_quiz_lesson, make_submitted_attempt

pytestmark = pytest.mark.django_db

PAGE = "/staff/quiz/"
CSV_URL = "/staff/quiz/export.csv"
# Every staff page: the statistics and the gradebook, each as a page and as CSV.
TESTS_CSV_URL = "/staff/quiz/tests.csv"
STAFF_URLS = [PAGE, CSV_URL, TESTS_CSV_URL, "/staff/quiz/gradebook/",
              "/staff/quiz/gradebook/export.csv"]  # fmt: skip


@pytest.fixture
def graded_lesson(tmp_path):
    """Ten learners: everyone right on 'obvious'; 'split' half right. Then a refresh."""
    lesson = make_quiz_lesson(
        tmp_path, make_question("obvious"), make_question("split"), slug="graded"
    )
    for learner in range(10):
        make_submitted_attempt(
            lesson=lesson, picks={"obvious": "a", "split": "a" if learner < 5 else "b"}
        )
    question_stats_refresh()
    return lesson


@pytest.mark.parametrize("url", STAFF_URLS)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("url", STAFF_URLS)
def test_a_learner_account_is_refused(client, django_user_model, url):
    client.force_login(django_user_model.objects.create_user("learner", password="x" * 12))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_see_completion_numbers_flags_and_the_chart(staff_client, graded_lesson):
    response = staff_client.get(PAGE)
    page = response.content.decode()

    assert response.status_code == 200
    assert graded_lesson.title in page
    assert "100%" in page  # completion: 10 of 10 finished a quiz
    assert "Too easy" in page and "100% answer right" in page
    assert "Nobody chose option b." in page
    assert page.count('<svg class="option-chart"') == 2
    assert 'role="img"' in page
    assert "<title id=" in page and "<desc id=" in page
    assert "10 answers. a, right answer: 10 (100%); b: 0 (0%); c: 0 (0%)." in page
    assert "10 answers. a, right answer: 5 (50%); b: 5 (50%); c: 0 (0%)." in page
    assert ">a ✓</text>" in page  # the right option is marked in text, not by colour alone
    assert "✓ right answer" in page


def test_htmx_gets_only_the_lessons_questions(staff_client, graded_lesson):
    response = staff_client.get(PAGE, {"lesson": "graded"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="lesson-questions"')
    assert "<html" not in page and "option-chart" in page


def test_an_unknown_lesson_is_a_404(staff_client):
    assert staff_client.get(PAGE, {"lesson": "nope"}).status_code == 404


def test_the_page_before_any_refresh(staff_client, tmp_path):
    make_quiz_lesson(tmp_path, make_question("fresh"))
    page = staff_client.get(PAGE).content.decode()
    assert "Not computed yet" in page and "No statistics yet." in page
    assert "0 answers." in page  # the chart still names each option


def test_the_csv_has_one_row_per_question_version(staff_client, graded_lesson, tmp_path):
    make_questions(
        tmp_path / graded_lesson.source_path,
        make_question("obvious", keys="abcd"),  # a second version of 'obvious'
        make_question("split"),
    )
    content_load(root=tmp_path)
    question_stats_refresh()

    response = staff_client.get(CSV_URL)
    rows = list(csv.reader(io.StringIO(response.content.decode())))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="quiz-stats.csv"' in response["Content-Disposition"]
    assert rows[0] == CSV_HEADER == [
        "course", "lesson", "question", "version", "current", "retired", "difficulty", "kind",
        "title", "answers", "correct", "percent_correct", "discrimination", "option_counts",
        "flags", "computed_at", "test_attempts", "tests", "facility", "test_sd", "random_guess",
        "discrimination_index", "discriminative_efficiency",
    ]  # fmt: skip
    by_version = {(row[2], row[3]): dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
    assert list(by_version) == [("obvious", "1"), ("obvious", "2"), ("split", "1")]
    first = by_version["obvious", "1"]
    assert (first["lesson"], first["current"], first["answers"], first["correct"]) == (
        "graded", "no", "10", "10"
    )  # fmt: skip
    assert (first["percent_correct"], first["discrimination"]) == ("100.0", "0.0")
    assert first["option_counts"] == "a=10 b=0 c=0"
    assert first["flags"] == "too_easy unused_distractor:b unused_distractor:c"
    assert first["title"] == "What is obvious about?"
    second = by_version["obvious", "2"]
    assert (second["current"], second["answers"], second["percent_correct"]) == ("yes", "0", "")
    assert second["option_counts"] == "a=0 b=0 c=0 d=0"
    split = by_version["split", "1"]
    assert (split["percent_correct"], split["option_counts"], split["flags"]) == (
        "50.0", "a=5 b=5 c=0", "unused_distractor:c"
    )  # fmt: skip


# The test statistics: their figures are checked by hand in test_test_stats.py and through the
# worker in test_stats.py; here, what the page says when a figure cannot be computed.


def figure_row(page: str, name: str) -> str:
    return page.split(f'id="figure-{name}">', 1)[1].split("</tr>", 1)[0]


def test_one_test_shows_dashes_and_says_why(staff_client, tmp_path):
    lesson = make_quiz_lesson(tmp_path, make_question("once"), make_question("twice"))
    make_submitted_attempt(lesson=lesson, picks={"once": "a", "twice": "b"}, mode="test")
    question_stats_refresh()

    page = staff_client.get(PAGE, {"lesson": lesson.slug}).content.decode()

    assert "50.00%" in figure_row(page, "mean")
    assert "—" in figure_row(page, "sd") and "needs at least 2 tests" in figure_row(page, "sd")
    assert "(alpha needs at least 3 tests)" in figure_row(page, "alpha")
    assert "(alpha needs at least 3 tests)" in figure_row(page, "standard_error")
    assert "Do the questions measure the same thing?" in figure_row(page, "alpha")
    assert '<svg class="meter"' in page and 'aria-hidden="true" focusable="false"' in page


def test_equal_scores_leave_alpha_out_with_the_reason(staff_client, tmp_path):
    lesson = make_quiz_lesson(tmp_path, make_question("left"), make_question("right"))
    for picks in ({"left": "a", "right": "b"}, {"left": "b", "right": "a"}) * 2:
        make_submitted_attempt(lesson=lesson, picks=picks, mode="test")
    question_stats_refresh()

    page = staff_client.get(PAGE, {"lesson": lesson.slug}).content.decode()

    assert "0.00%" in figure_row(page, "sd")
    assert "(alpha every test has the same score (SD 0))" in figure_row(page, "alpha")


def test_an_unknown_attempts_choice_is_a_400_with_a_message(staff_client):
    for url in (PAGE, CSV_URL, TESTS_CSV_URL):
        response = staff_client.get(url, {"attempts": "best"})
        assert response.status_code == 400, url
        assert response.content.decode() == "attempts must be 'first' or 'all'."


def test_the_test_csv_has_a_row_per_lesson_and_choice(staff_client, graded_lesson):
    for attempts in ("first", "all"):
        response = staff_client.get(TESTS_CSV_URL, {"attempts": attempts})
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert 'filename="test-stats.csv"' in response["Content-Disposition"]
        assert [(row["lesson"], row["attempts"], row["tests"]) for row in rows] == [
            ("graded", attempts, "0")
        ]
        assert (rows[0]["mean"], rows[0]["alpha_note"]) == ("", "needs at least 3 tests")


# The admin: every model is there, and what files or grading wrote cannot be changed.

READ_ONLY = [
    "lessons.course", "lessons.lesson", "lessons.contentproblem", "quiz.question",
    "quiz.questionversion", "quiz.attempt", "quiz.attemptquestion", "quiz.answer",
    "quiz.questionversionstats", "quiz.questionstats", "quiz.lessonstats",
    "quiz.lessonteststats", "quiz.questionteststats",
]  # fmt: skip
EDITABLE = ["learners.learner", "quiz.reviewitem"]


def test_the_admin_lists_every_model_and_keeps_graded_records_read_only(
    admin_client, graded_lesson
):
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert set(READ_ONLY + EDITABLE) <= registered
    for label in READ_ONLY + EDITABLE:
        app, model = label.split(".")
        assert admin_client.get(f"/admin/{app}/{model}/").status_code == 200, label
        expected = 403 if label in READ_ONLY else 200
        assert admin_client.get(f"/admin/{app}/{model}/add/").status_code == expected, label
