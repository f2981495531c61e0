"""The anchor for live streams: django-eventstream, as its README sets it up for several
processes (EVENTSTREAM_REDIS: events are published on Redis and each web process relays them),
one channel per learner at /events/<learner>/. Served by uvicorn from the anchors' virtualenv
(``eventstream_site:application``); BENCH_REDIS_SOCKET names the Redis."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.urls import include, path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="bench-eventstream-not-secret",
    INSTALLED_APPS=["django_eventstream"],
    MIDDLEWARE=[],
    EVENTSTREAM_REDIS={"unix_socket_path": os.environ["BENCH_REDIS_SOCKET"]},
)

# It reads its settings as it is imported.
import django_eventstream  # noqa: E402

urlpatterns = [
    path(
        "events/<learner>/",
        include(django_eventstream.urls),
        {"format-channels": ["learner-{learner}"]},
    ),
]

application = get_asgi_application()
