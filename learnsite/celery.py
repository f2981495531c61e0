import os

from celery import Celery
from celery.backends.redis import RedisBackend

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")


class SentUnwatchedRedisBackend(RedisBackend):
    """Celery's Redis result backend, without a subscription for each task sent.

    As a process sends a task, Celery subscribes it to the task's result channel, so that a
    later ``.get()`` cannot miss the result. No view of the site waits on a result (the labs
    stream their runs' events through Redis streams), and the subscription cost the web
    process: a pub/sub connection, and a result freed while Redis was away unsubscribed in
    whatever thread freed it, retrying for 20 s, a second apart. ``.get()`` still works: it
    subscribes when called, then reads the stored result (``on_wait_for_pending``). Workers
    never subscribe as they send (``task_join_will_block``)."""

    def on_task_call(self, producer, task_id) -> None:
        pass


app = Celery("learnsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's setting ``override_backends``, which the CELERY_ names of Django's settings do not
# reach: the result backends named redis:// and rediss:// are the class above.
app.loader.override_backends = dict.fromkeys(
    ("redis", "rediss"), f"{__name__}:{SentUnwatchedRedisBackend.__name__}"
)
app.autodiscover_tasks()
