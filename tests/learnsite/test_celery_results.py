"""The site's Redis result backend (learnsite/celery.py): a process that sends a task is not
subscribed to its result, and ``.get()`` still reads it."""

import pytest

from learnsite.celery import SentUnwatchedRedisBackend, app
from learnsite.redis import redis_client
from quiz.tasks import question_stats_refresh_task


def test_the_site_uses_it_for_its_redis_results():
    assert isinstance(app.backend, SentUnwatchedRedisBackend)


@pytest.mark.django_db(transaction=True)
def test_a_task_sent_is_not_subscribed_to_and_its_result_is_still_read(workers):
    result = question_stats_refresh_task.apply_async()
    # Celery's own backend subscribes the sender to this channel until the result is freed:
    # a web process then retried its Redis for 20 s when a result was freed with Redis away.
    channel = f"celery-task-meta-{result.id}"
    assert redis_client().pubsub_numsub(channel) == [(channel, 0)]
    assert "computed_at" in result.get(timeout=20)
