"""ReviewItem gets its FSRS card; the doubling schedule's rows become cards that keep their due
dates. Frozen here, not imported from quiz.services, so later changes there cannot change it."""

from datetime import UTC, datetime, timedelta

from django.db import migrations, models
from fsrs import Card, Rating, Scheduler, State

# No difficulty was ever measured: take the one FSRS gives a card first answered Good.
_FIRST_GOOD_DIFFICULTY = (
    Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)
    .review_card(Card(card_id=0), Rating.Good, datetime(2000, 1, 1, tzinfo=UTC))[0]
    .difficulty
)


def card_from_interval(*, card_id: int, interval_days: float, due_at: datetime) -> dict:
    """The FSRS card of a doubling-schedule row, due at the same ``due_at``.

    A row with an interval was last answered right ``interval_days`` before ``due_at``: a Review
    card reviewed then, whose stability is the interval (at the desired retention of 0.9, FSRS
    schedules a card ``stability`` days after its last review). A 0-interval row (a miss) is a
    fresh Learning card, due at its ``due_at``.
    """
    due = due_at.astimezone(UTC)
    if interval_days > 0:
        card = Card(
            card_id=card_id,
            state=State.Review,
            stability=interval_days,
            difficulty=_FIRST_GOOD_DIFFICULTY,
            due=due,
            last_review=due - timedelta(days=interval_days),
        )
    else:
        card = Card(card_id=card_id, state=State.Learning, due=due)
    return card.to_dict()


def cards_from_intervals(apps, schema_editor):
    ReviewItem = apps.get_model("quiz", "ReviewItem")
    for item in ReviewItem.objects.filter(card={}).iterator():
        item.card = card_from_interval(
            card_id=item.question_id, interval_days=item.interval_days, due_at=item.due_at
        )
        item.save(update_fields=["card"])


class Migration(migrations.Migration):
    dependencies = [("quiz", "0003_learner_moved_to_learners")]

    operations = [
        migrations.AddField(
            model_name="reviewitem",
            name="card",
            field=models.JSONField(blank=True, default=dict),
        ),
        # Backwards, the rows keep due_at and interval_days: the doubling schedule reads them.
        migrations.RunPython(cards_from_intervals, migrations.RunPython.noop),
    ]
