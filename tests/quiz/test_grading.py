from collections import Counter

import pytest

from learners.models import Learner
from quiz.models import Answer, QuestionVersion
from quiz.services import (
    TEST_MIX,
    SubmissionError,
    attempt_answer,
    attempt_start,
    attempt_submit,
    grade,
    review_due,
)


def version(key: str) -> QuestionVersion:
    return QuestionVersion.objects.get(question__key=key)


def right_keys(item) -> list[str]:
    return [option["key"] for option in item.version.options if option["correct"]]


@pytest.fixture
def learner(db) -> Learner:
    return Learner.objects.create(key="grading-learner")


@pytest.mark.parametrize(
    ("key", "chosen", "correct", "credit"),
    [
        ("easy-1", ["a"], True, 1.0),
        ("easy-1", ["b"], False, 0.0),
        ("keeps-messages", ["a", "b"], True, 1.0),
        ("keeps-messages", ["a"], False, 0.0),  # all or nothing by default
        ("keeps-messages", ["a", "b", "c"], False, 0.0),
        ("keeps-messages-partly", ["a"], False, 0.5),
        ("keeps-messages-partly", ["a", "c"], False, 0.0),  # a wrong pick takes a right one back
        ("keeps-messages-partly", ["a", "b", "c"], False, 0.5),
        ("keeps-messages-partly", ["c", "d"], False, 0.0),  # never below zero
        ("keeps-messages-partly", ["b", "a"], True, 1.0),
    ],
)
def test_grading_every_question_type(bank_lesson, key, chosen, correct, credit):
    result = grade(version=version(key), chosen=chosen)
    assert (result.correct, result.credit) == (correct, credit)


def test_practice_and_quiz_take_their_sets_in_file_order(bank_lesson, learner):
    practice = attempt_start(learner=learner, lesson=bank_lesson, mode="practice")
    keys = [item.version.question.key for item in practice.items.all()]
    assert keys == ["easy-1", "easy-2", "medium-1", "medium-2", "hard-1", "hard-2"]
    quiz = attempt_start(learner=learner, lesson=bank_lesson, mode="quiz")
    keys = [item.version.question.key for item in quiz.items.all()]
    assert keys == ["easy-1", "medium-1", "hard-1", "keeps-messages"]


def test_a_test_draws_ten_in_the_fixed_mix_without_repeats_and_shuffles(bank_lesson, learner):
    orders, draws = set(), set()
    for _ in range(12):
        attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="test")
        items = list(attempt.items.select_related("version"))
        keys = [item.version.question.key for item in items]
        assert len(keys) == 10 == len(set(keys))
        assert Counter(item.version.difficulty for item in items) == Counter(TEST_MIX)
        draws.add(tuple(sorted(keys)))
        orders.update(tuple(item.option_order) for item in items)
        for item in items:
            assert sorted(item.option_order) == [o["key"] for o in item.version.options]
    # Retakes draw again, and options come in more than one order (chance of a false failure:
    # about 1e-20 and 1e-35).
    assert len(draws) > 1
    assert len(orders) > 2


def test_a_short_difficulty_is_filled_from_the_rest(bank_lesson, learner):
    version("hard-1").question.__class__.objects.filter(
        key__in=["hard-1", "hard-2", "hard-3"]
    ).update(retired=True)
    attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="test")
    assert attempt.items.count() == 10


def test_the_same_answer_twice_is_recorded_once(bank_lesson, learner):
    attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="practice")
    first = attempt_answer(attempt=attempt, position=1, chosen=["a"])
    again = attempt_answer(attempt=attempt, position=1, chosen=["a"])
    assert first.pk == again.pk
    assert Answer.objects.filter(item__attempt=attempt).count() == 1


def test_a_whole_submission_twice_is_recorded_once(bank_lesson, learner):
    attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="quiz")
    answers = {item.position: right_keys(item) for item in attempt.items.all()}
    attempt_submit(attempt=attempt, answers=answers)
    attempt_submit(attempt=attempt, answers=answers)  # the back button, then submit again
    attempt.refresh_from_db()
    assert Answer.objects.filter(item__attempt=attempt).count() == 4
    assert attempt.score == 4 and attempt.percent == 100


@pytest.mark.parametrize(
    ("position", "chosen", "message"),
    [
        (99, ["a"], "has no question 99"),
        ("two", ["a"], "which question"),
        (1, ["z"], "has no option 'z'"),
        (1, ["a", "b"], "takes one answer"),
        (1, [], "Choose an answer"),
        (1, [3], "list of option letters"),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(
    bank_lesson, learner, position, chosen, message
):
    attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="practice")
    with pytest.raises(SubmissionError, match=message):
        attempt_answer(attempt=attempt, position=position, chosen=chosen)
    assert not Answer.objects.exists()


def test_a_changed_answer_and_an_answer_to_a_finished_attempt_are_refused(bank_lesson, learner):
    attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="quiz")
    answers = {item.position: ["a"] for item in attempt.items.all()}
    answers[4] = ["a", "b"]
    with pytest.raises(SubmissionError, match="Answer every question"):
        attempt_submit(attempt=attempt, answers={1: ["a"]})
    assert not Answer.objects.exists()
    attempt_submit(attempt=attempt, answers=answers)
    with pytest.raises(SubmissionError, match="finished"):
        attempt_submit(attempt=attempt, answers=answers | {1: ["b"]})
    another_quiz = attempt_start(learner=learner, lesson=bank_lesson, mode="quiz")
    with pytest.raises(SubmissionError, match="sent together"):
        attempt_answer(attempt=another_quiz, position=1, chosen=["a"])
    assert Answer.objects.count() == 4


def test_missed_questions_come_back_for_review_and_right_ones_later(bank_lesson, learner):
    attempt = attempt_start(learner=learner, lesson=bank_lesson, mode="practice")
    attempt_answer(attempt=attempt, position=1, chosen=["b"])  # wrong
    attempt_answer(attempt=attempt, position=2, chosen=["a"])  # right, never missed
    assert [q.key for q in review_due(learner=learner)] == ["easy-1"]

    review = attempt_start(learner=learner, mode="review")
    assert review.lesson is None and review.items.count() == 1
    attempt_answer(attempt=review, position=1, chosen=["a"])
    assert review_due(learner=learner) == []
    item = learner.reviews.get()
    assert item.interval_days == 1.0
