"""The review schedule: answers rated for FSRS, due dates from the card, the migrated rows."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from fsrs import Card, Rating, State

from learners.models import Learner
from quiz.models import Question, ReviewItem
from quiz.services import (
    REVIEW_SCHEDULER,
    learner_work_move,
    review_due,
    review_rating,
    review_schedule,
)

migration = importlib.import_module("quiz.migrations.0004_reviewitem_card")

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def learner(db) -> Learner:
    return Learner.objects.create(key="review-learner")


def question(key: str) -> Question:
    return Question.objects.get(key=key)


def item(learner: Learner, key: str) -> ReviewItem:
    return ReviewItem.objects.get(learner=learner, question__key=key)


@pytest.mark.parametrize(
    ("correct", "hinted", "rating"),
    [
        (False, False, Rating.Again),
        (False, True, Rating.Again),
        (True, True, Rating.Hard),
        (True, False, Rating.Good),
    ],
)
def test_answers_are_rated_as_documented(correct, hinted, rating):
    assert review_rating(correct=correct, hinted=hinted) == rating


def test_easy_is_never_given():
    ratings = {review_rating(correct=c, hinted=h) for c in (True, False) for h in (True, False)}
    assert Rating.Easy not in ratings


def test_a_miss_is_due_at_once_and_a_hit_later(bank_lesson, learner):
    for key in ("easy-1", "easy-2"):
        review_schedule(learner=learner, question_id=question(key).pk, correct=False, now=START)
    assert item(learner, "easy-1").due_at == START and item(learner, "easy-1").interval_days == 0

    later = START + timedelta(days=1)
    review_schedule(learner=learner, question_id=question("easy-1").pk, correct=True, now=later)
    review_schedule(learner=learner, question_id=question("easy-2").pk, correct=False, now=later)

    assert item(learner, "easy-2").due_at == later
    assert item(learner, "easy-1").due_at > later + timedelta(hours=12)
    assert item(learner, "easy-1").card["state"] == State.Review


def test_a_first_right_answer_to_a_question_never_missed_schedules_nothing(bank_lesson, learner):
    review_schedule(learner=learner, question_id=question("easy-1").pk, correct=True, now=START)
    assert not ReviewItem.objects.exists()


def test_successive_hits_grow_the_interval(bank_lesson, learner):
    key = question("easy-1").pk
    review_schedule(learner=learner, question_id=key, correct=False, now=START)
    intervals = []
    for _ in range(5):
        now = item(learner, "easy-1").due_at  # answered right each time it is due
        review_schedule(learner=learner, question_id=key, correct=True, now=now)
        intervals.append(item(learner, "easy-1").due_at - now)
    assert intervals == sorted(set(intervals)), intervals  # strictly growing
    assert intervals[0] >= timedelta(days=1)


def test_right_after_a_hint_comes_back_sooner_than_right(bank_lesson, learner):
    for key in ("easy-1", "easy-2"):
        review_schedule(learner=learner, question_id=question(key).pk, correct=False, now=START)
    later = START + timedelta(days=1)
    review_schedule(learner=learner, question_id=question("easy-1").pk, correct=True, now=later)
    review_schedule(
        learner=learner, question_id=question("easy-2").pk, correct=True, hinted=True, now=later
    )
    assert later < item(learner, "easy-2").due_at < item(learner, "easy-1").due_at


def test_review_mode_asks_what_is_due(bank_lesson, learner):
    for key in ("easy-1", "easy-2"):
        review_schedule(learner=learner, question_id=question(key).pk, correct=False, now=START)
    review_schedule(learner=learner, question_id=question("easy-1").pk, correct=True, now=START)

    assert [q.key for q in review_due(learner=learner, now=START)] == ["easy-2"]
    due = item(learner, "easy-1").due_at
    assert [q.key for q in review_due(learner=learner, now=due)] == ["easy-2", "easy-1"]


def test_merging_keeps_the_sooner_reviews_whole_card(bank_lesson, learner):
    anonymous = Learner.objects.create(key="review-anonymous")
    key = question("easy-1").pk
    review_schedule(learner=learner, question_id=key, correct=False, now=START)
    review_schedule(learner=learner, question_id=key, correct=True, now=START)
    review_schedule(learner=anonymous, question_id=key, correct=False, now=START)
    missed = item(anonymous, "easy-1")

    learner_work_move(source=anonymous, target=learner)

    kept = item(learner, "easy-1")
    assert (kept.due_at, kept.interval_days, kept.card) == (
        missed.due_at,
        missed.interval_days,
        missed.card,
    )


def test_a_doubled_interval_row_becomes_a_review_card_due_when_it_was():
    due_at = START + timedelta(days=8)
    card = Card.from_dict(migration.card_from_interval(card_id=7, interval_days=8, due_at=due_at))

    assert card.state == State.Review and card.due == due_at
    assert card.stability == 8 and card.last_review == START
    # The stability fits the interval: at its due date the card is at the desired retention.
    assert REVIEW_SCHEDULER.get_card_retrievability(card, due_at) == pytest.approx(0.9, abs=0.01)
    # And a hit then pushes it further out than the 8 days it had.
    reviewed, _ = REVIEW_SCHEDULER.review_card(card, Rating.Good, review_datetime=due_at)
    assert reviewed.due - due_at > timedelta(days=8)


def test_a_zero_interval_row_becomes_a_fresh_card_due_when_it_was():
    card = Card.from_dict(migration.card_from_interval(card_id=7, interval_days=0, due_at=START))
    assert card.state == State.Learning and card.stability is None and card.due == START


def test_the_data_migration_converts_the_stored_rows(bank_lesson, learner):
    ReviewItem.objects.create(
        learner=learner, question=question("easy-1"), due_at=START, interval_days=4
    )
    ReviewItem.objects.create(
        learner=learner, question=question("easy-2"), due_at=START, interval_days=0
    )

    migration.cards_from_intervals(apps, None)

    hit, miss = item(learner, "easy-1"), item(learner, "easy-2")
    assert hit.due_at == miss.due_at == START  # due dates kept
    assert Card.from_dict(hit.card).state == State.Review
    assert Card.from_dict(hit.card).due == START and hit.card["stability"] == 4
    assert Card.from_dict(miss.card).state == State.Learning
