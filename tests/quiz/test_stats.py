import csv
import io
import re
import time

import pytest
from celery.signals import after_task_publish
from django.test import Client

from authoring.content import content_load
from learnsite.celery import app as celery_app
from learnsite.redis import redis_client
from quiz.models import Attempt, LessonStats, LessonTestStats, QuestionStats, QuestionVersionStats
from quiz.stats import (
    AnswerRow,
    discrimination_compute,
    discrimination_group_size,
    learner_scores_compute,
    lesson_stats_compute,
    question_stats_compute,
    question_stats_refresh,
)
from quiz.tasks import STATS_DEBOUNCE_KEY, question_stats_refresh_task, question_stats_schedule
from tests.authoring.factory import make_questions

from .factory import (
    make_learner,
    make_practice_answers,
    make_question,
    make_quiz_lesson,
    make_started_attempt,
    make_submitted_attempt,
)

# Ten learners L0..L9 each take one quiz of six questions. Character i of a string is the
# option learner Li picks. Overall scores (right answers of 6): L0 5; L1, L2 4; L3-L6 3;
# L7-L9 2. So with 10 respondents the 27% groups hold 3: upper L0-L2, lower L7-L9.
PICKS = {
    "all-right": "aaaaaaaaaa",  # right: a
    "nearly-none": "abbbbbbccc",  # right: a; only L0
    "separates": "aaaaaaabbb",  # right: a; L0-L6
    "backwards": "aaaaaabbbb",  # right: b; L6-L9, the weakest
    "clean": "aaaaaabbcc",  # right: a; L0-L5
    "tied-distractor": "aaabbbbccc",  # right: a; L0-L2
}
RIGHT = {"backwards": "b"}


def unused(key: str) -> dict:
    return {"code": "unused_distractor", "option": key, "text": f"Nobody chose option {key}."}


def popular(key: str, count: int, right: int) -> dict:
    text = f"Wrong option {key} was chosen more often than the right answer ({count} against "
    text += f"{right})."
    return {"code": "popular_distractor", "option": key, "text": text}


TOO_EASY = {"code": "too_easy", "option": "", "text": "100% answer right: it may give itself away."}
TOO_HARD = {
    "code": "too_hard",
    "option": "",
    "text": "Only 10% answer right: check the marked answer.",
}
EXPECTED = {  # answers, correct, percent, option counts, D, flags
    "all-right": (10, 10, 100.0, {"a": 10, "b": 0, "c": 0}, 0.0, [
        TOO_EASY, unused("b"), unused("c"),
    ]),
    "nearly-none": (10, 1, 10.0, {"a": 1, "b": 6, "c": 3}, 0.3333, [
        TOO_HARD, popular("b", 6, 1), popular("c", 3, 1),
    ]),
    "separates": (10, 7, 70.0, {"a": 7, "b": 3, "c": 0}, 1.0, [unused("c")]),
    "backwards": (10, 4, 40.0, {"a": 6, "b": 4, "c": 0}, -1.0, [popular("a", 6, 4), unused("c")]),
    "clean": (10, 6, 60.0, {"a": 6, "b": 2, "c": 2}, 1.0, []),
    "tied-distractor": (10, 3, 30.0, {"a": 3, "b": 4, "c": 3}, 1.0, [popular("b", 4, 3)]),
}  # fmt: skip


@pytest.fixture
def class_of_ten(tmp_path):
    questions = [make_question(key, right=RIGHT.get(key, "a")) for key in PICKS]
    lesson = make_quiz_lesson(tmp_path, *questions)
    for learner in range(10):
        picks = {key: picks[learner] for key, picks in PICKS.items()}
        make_submitted_attempt(lesson=lesson, picks=picks)
    return lesson


@pytest.mark.django_db
def test_refresh_stores_hand_computed_stats_for_every_version(class_of_ten):
    report = question_stats_refresh()

    assert (report.lessons, report.questions, report.versions, report.answers) == (1, 6, 6, 60)
    for key, (answers, correct, percent, counts, d, flags) in EXPECTED.items():
        stats = QuestionVersionStats.objects.get(version__question__key=key)
        assert (stats.answers, stats.correct, stats.percent_correct) == (answers, correct, percent)
        assert stats.option_counts == counts, key
        assert stats.discrimination == d, key
        assert stats.flags == flags, key
        assert stats.computed_at.isoformat() == report.computed_at
        pooled = QuestionStats.objects.get(question__key=key)  # one version: the same numbers
        assert (pooled.answers, pooled.percent_correct, pooled.discrimination) == (
            answers, percent, d
        )  # fmt: skip
    lesson = LessonStats.objects.get(lesson=class_of_ten)
    assert (lesson.learners_started, lesson.learners_finished, lesson.completion_percent) == (
        10, 10, 100.0
    )  # fmt: skip
    assert (lesson.tests_finished, lesson.average_test_percent) == (0, None)


@pytest.mark.django_db
def test_a_second_refresh_updates_the_stored_rows(class_of_ten):
    question_stats_refresh()
    make_submitted_attempt(lesson=class_of_ten, picks=dict.fromkeys(PICKS, "c"))
    question_stats_refresh()

    stats = QuestionVersionStats.objects.get(version__question__key="all-right")
    assert (stats.answers, stats.correct, stats.option_counts["c"]) == (11, 10, 1)
    assert [flag["option"] for flag in stats.flags] == ["b"]  # c was picked; 90.9% is not 95%
    assert QuestionVersionStats.objects.count() == 6


@pytest.mark.django_db
def test_answers_stay_with_the_version_they_answered(tmp_path):
    lesson = make_quiz_lesson(tmp_path, make_question("edited"))
    for pick in "aab":
        make_submitted_attempt(lesson=lesson, picks={"edited": pick})
    make_questions(tmp_path / lesson.source_path, make_question("edited", right="b", keys="abcd"))
    content_load(root=tmp_path)
    for pick in "bd":
        make_submitted_attempt(lesson=lesson, picks={"edited": pick})

    question_stats_refresh()

    first, second = QuestionVersionStats.objects.filter(version__question__key="edited").order_by(
        "version__number"
    )
    assert (first.answers, first.percent_correct, first.option_counts) == (
        3, 66.67, {"a": 2, "b": 1, "c": 0}
    )  # fmt: skip
    assert (second.answers, second.percent_correct, second.option_counts) == (
        2, 50.0, {"a": 0, "b": 1, "c": 0, "d": 1}
    )  # fmt: skip
    pooled = QuestionStats.objects.get(question__key="edited")
    assert (pooled.answers, pooled.correct, pooled.percent_correct) == (5, 3, 60.0)


@pytest.mark.django_db
def test_lesson_completion_and_average_test_score(tmp_path):
    lesson = make_quiz_lesson(tmp_path, make_question("first"), make_question("second"))
    make_submitted_attempt(lesson=lesson, picks={"first": "a", "second": "a"})  # quiz: finished
    make_submitted_attempt(lesson=lesson, picks={"first": "a", "second": "b"}, mode="test")  # 50%
    make_submitted_attempt(lesson=lesson, picks={"first": "a", "second": "a"}, mode="test")  # 100%
    make_started_attempt(lesson=lesson, mode="test")  # started, never submitted
    make_practice_answers(lesson=lesson, picks={"first": "b"})  # practice, half done
    practised = make_practice_answers(lesson=lesson, picks={"first": "a", "second": "a"})
    assert practised.finished_at is not None  # a finished practice is not a finished quiz

    result = lesson_stats_compute(lesson=lesson)

    assert (result.learners_started, result.learners_finished) == (6, 3)
    assert result.completion_percent == 50.0
    assert (result.tests_finished, result.average_test_percent) == (2, 75.0)


@pytest.mark.django_db
def test_a_lesson_nobody_started_has_no_percentages(tmp_path):
    result = lesson_stats_compute(lesson=make_quiz_lesson(tmp_path))
    assert (result.learners_started, result.completion_percent) == (0, None)
    assert (result.tests_finished, result.average_test_percent) == (0, None)


@pytest.mark.django_db
def test_one_learner_counts_twice_in_the_average_when_tested_twice(tmp_path):
    lesson = make_quiz_lesson(tmp_path, make_question("only"))
    learner = make_learner()
    for pick in "ab":
        make_submitted_attempt(lesson=lesson, picks={"only": pick}, mode="test", learner=learner)
    result = lesson_stats_compute(lesson=lesson)
    assert (result.learners_started, result.learners_finished) == (1, 1)
    assert (result.tests_finished, result.average_test_percent) == (2, 50.0)


# The pure functions, on answer rows written by hand.

OPTIONS = [
    {"key": "a", "correct": True},
    {"key": "b", "correct": False},
    {"key": "c", "correct": False},
]


def rows(*picks: str, correct_key: str = "a") -> list[AnswerRow]:
    """One answer per pick, learner ids 1, 2, 3..."""
    return [
        AnswerRow(learner, 1, 1, tuple(pick), pick == correct_key, float(pick == correct_key))
        for learner, pick in enumerate(picks, start=1)
    ]


def flag_codes(result) -> list[str]:
    return [flag["code"] + flag["option"] for flag in result.flags]


def compute(answers: list[AnswerRow]):
    scores = learner_scores_compute(answers=answers)
    return question_stats_compute(answers=answers, learner_scores=scores, options=OPTIONS)


def test_no_flags_below_ten_answers():
    assert flag_codes(compute(rows(*"a" * 9))) == []
    assert flag_codes(compute(rows(*"a" * 10))) == ["too_easy", "unused_distractorb",
                                                    "unused_distractorc"]  # fmt: skip
    assert flag_codes(compute(rows(*"bbbbbbbbb"))) == []


@pytest.mark.parametrize(
    ("picks", "codes"),
    [
        ("a" * 19 + "b", ["too_easy", "unused_distractorc"]),  # 95% exactly
        ("a" * 18 + "bc", []),  # 90%
        ("a" + "b" * 4 + "c" * 5, ["too_hard", "popular_distractorb", "popular_distractorc"]),
        ("aa" + "b" * 4 + "c" * 4, ["popular_distractorb", "popular_distractorc"]),  # 20%
        ("aaaa" + "bbbb" + "cc", []),  # a distractor as popular as the right answer: a tie
    ],
)
def test_flag_thresholds(picks, codes):
    assert flag_codes(compute(rows(*picks))) == codes


def test_multiple_answers_count_once_per_option_and_partial_credit_is_not_right():
    options = [
        {"key": "a", "correct": True},
        {"key": "b", "correct": True},
        {"key": "c", "correct": False},
    ]
    answers = [
        AnswerRow(1, 1, 1, ("a", "b"), True, 1.0),
        AnswerRow(2, 1, 1, ("a",), False, 0.5),
        AnswerRow(3, 1, 1, ("a", "c"), False, 0.0),
    ]
    scores = learner_scores_compute(answers=answers)
    result = question_stats_compute(answers=answers, learner_scores=scores, options=options)
    assert result.option_counts == {"a": 3, "b": 1, "c": 1}
    assert (result.answers, result.correct, result.percent_correct) == (3, 1, 33.33)
    assert scores == {1: 1.0, 2: 0.5, 3: 0.0}
    # groups of 1 (27% of 3, rounded): learner 1 right, learner 3 wrong
    assert result.discrimination == 1.0


def test_the_27_percent_groups_round_half_up_and_hold_at_least_one():
    sizes = {n: discrimination_group_size(n) for n in (2, 3, 5, 10, 11, 50, 100)}
    assert sizes == {2: 1, 3: 1, 5: 1, 10: 3, 11: 3, 50: 14, 100: 27}


def test_discrimination_uses_the_lesson_score_and_each_learners_share_right():
    # Learner 1 answered this question twice (right, then wrong): an item score of 0.5.
    answers = [
        AnswerRow(1, 1, 1, ("a",), True, 1.0),
        AnswerRow(1, 1, 1, ("b",), False, 0.0),
        AnswerRow(2, 1, 1, ("b",), False, 0.0),
    ]
    lesson_scores = {1: 0.9, 2: 0.2}  # from the whole lesson, not from this question
    assert discrimination_compute(answers=answers, learner_scores=lesson_scores) == 0.5
    assert discrimination_compute(answers=answers[:2], learner_scores=lesson_scores) is None


def test_a_question_without_answers():
    result = question_stats_compute(answers=[], learner_scores={}, options=OPTIONS)
    assert (result.answers, result.percent_correct, result.discrimination) == (0, None, None)
    assert (result.option_counts, result.flags) == ({"a": 0, "b": 0, "c": 0}, [])


# The task, run by a real worker process through the real Redis.

DEBOUNCE = 1  # seconds: the tests shorten the window


@pytest.fixture
def debounce(settings, redis_url):
    settings.QUIZ_STATS_DEBOUNCE_SECONDS = DEBOUNCE
    redis_client().delete(STATS_DEBOUNCE_KEY)
    yield
    redis_client().delete(STATS_DEBOUNCE_KEY)


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def test_a_finished_attempt_refreshes_the_stats_in_the_worker(workers, debounce, tmp_path):
    lesson = make_quiz_lesson(tmp_path, make_question("in-worker"))

    make_submitted_attempt(lesson=lesson, picks={"in-worker": "a"})  # schedules on commit

    assert 0 < redis_client().pttl(STATS_DEBOUNCE_KEY) <= DEBOUNCE * 1000
    stats = wait_for(
        lambda: QuestionVersionStats.objects.filter(version__question__key="in-worker").first()
    )
    assert (stats.answers, stats.percent_correct, stats.option_counts["a"]) == (1, 100.0, 1)
    assert LessonStats.objects.get(lesson=lesson).completion_percent == 100.0


def take_test(client: Client, *, lesson, marks: str) -> None:
    """Start and submit a test through the pages: mark i of ``marks`` is question q{i + 1},
    1 the right option (a), 0 a wrong one (b), wherever the test placed it."""
    response = client.post(f"/lessons/{lesson.slug}/attempts/", {"mode": "test"})
    attempt = Attempt.objects.get(pk=int(re.search(r"/attempts/(\d+)/", response.url).group(1)))
    answers = {
        f"q{item.position}": "a" if marks[int(item.version.question.key[1:]) - 1] == "1" else "b"
        for item in attempt.items.select_related("version__question")
    }
    assert client.post(f"/attempts/{attempt.pk}/submit/", answers).status_code == 302


def test_tests_taken_in_the_pages_show_their_figures_after_the_refresh(
    workers, debounce, staff_client, tmp_path
):
    """The matrix of tests/quiz/test_test_stats.py (figures computed by hand there), taken by
    four learners through the pages; then learner A takes the test again, all wrong."""
    lesson = make_quiz_lesson(tmp_path, *(make_question(f"q{n}") for n in (1, 2, 3)))
    first = Client()
    for learner, marks in [(first, "111"), (Client(), "110"), (Client(), "011"), (Client(), "000")]:
        take_test(learner, lesson=lesson, marks=marks)
    take_test(first, lesson=lesson, marks="000")

    wait_for(lambda: LessonTestStats.objects.filter(lesson=lesson, attempts="all", tests=5))
    page = staff_client.get("/staff/quiz/", {"lesson": lesson.slug}).content.decode()
    assert re.search(r'id="figure-tests">.*?<td class="figure-value">4</td>', page, re.S)
    assert re.search(r'id="figure-mean">.*?58\.33%', page, re.S)
    assert re.search(r'id="figure-alpha">.*?0\.63', page, re.S)
    assert re.search(r'id="figure-standard_error">.*?25\.46%', page, re.S)
    assert "<code>q3</code>" in page and "30.15%" in page and "33.33%" in page
    every = staff_client.get("/staff/quiz/", {"lesson": lesson.slug, "attempts": "all"})
    assert re.search(r'id="figure-tests">.*?<td class="figure-value">5</td>', every.text, re.S)

    response = staff_client.get("/staff/quiz/tests.csv")
    rows = [row for row in csv.DictReader(io.StringIO(response.content.decode()))
            if row["lesson"] == lesson.slug]  # fmt: skip
    assert [(row["attempts"], row["tests"], row["mean"], row["alpha"]) for row in rows] == [
        ("first", "4", "58.33", "0.6316")
    ]
    response = staff_client.get("/staff/quiz/export.csv", {"attempts": "first"})
    q3 = next(row for row in csv.DictReader(io.StringIO(response.content.decode()))
              if row["question"] == "q3")  # fmt: skip
    assert (q3["tests"], q3["facility"], q3["random_guess"]) == ("4", "50.0", "33.33")
    assert (q3["discrimination_index"], q3["discriminative_efficiency"]) == ("30.15", "33.33")


@pytest.fixture
def refreshes_sent():
    """Ids of the refresh tasks this process sends to the broker while the test runs."""
    sent: list[str] = []

    def record(sender=None, headers=None, **kwargs):
        if sender == question_stats_refresh_task.name:
            sent.append(headers["id"])

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


def test_two_schedules_in_one_window_run_one_refresh(workers, debounce, refreshes_sent, tmp_path):
    lesson = make_quiz_lesson(tmp_path)

    first = question_stats_schedule()
    second = question_stats_schedule()

    assert first is not None and second is None
    assert 0 < redis_client().pttl(STATS_DEBOUNCE_KEY) <= DEBOUNCE * 1000
    # The second schedule queued nothing: one message reached the broker, the first's. (Other
    # tests' web processes may queue refreshes of their own on this shared worker meanwhile,
    # which is why the messages sent from here are the ones counted.)
    assert refreshes_sent == [first]
    report = celery_app.AsyncResult(first).get(timeout=20)
    assert celery_app.AsyncResult(first).state == "SUCCESS"
    stored = LessonStats.objects.get(lesson=lesson).computed_at
    assert stored.isoformat() == report["computed_at"]

    # Once the window is over, the next finished attempt queues a refresh again.
    wait_for(lambda: not redis_client().exists(STATS_DEBOUNCE_KEY), timeout=5)
    third = question_stats_schedule()
    assert third is not None
    report = celery_app.AsyncResult(third).get(timeout=20)
    assert LessonStats.objects.get(lesson=lesson).computed_at > stored


@pytest.mark.django_db
def test_with_redis_down_grading_succeeds_and_the_refresh_is_skipped(
    settings, tmp_path, django_capture_on_commit_callbacks, caplog
):
    lesson = make_quiz_lesson(tmp_path, make_question("no-redis"))
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"
    redis_client.cache_clear()
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            attempt = make_submitted_attempt(lesson=lesson, picks={"no-redis": "a"})
        assert callbacks == [question_stats_schedule]
        assert attempt.finished_at is not None and attempt.score == 1.0
        assert "Statistics refresh not scheduled: Redis is unavailable" in caplog.text
        assert question_stats_schedule() is None
    finally:
        redis_client.cache_clear()  # the next caller connects to the restored REDIS_URL
