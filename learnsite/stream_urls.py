"""Every server-sent event stream of the site, under /streams/ (``STREAM_PREFIX``): the ASGI
application serves this prefix outside Django's per-request thread context."""

from django.urls import include, path

import labs.urls
import lessons.urls

app_name = "streams"
urlpatterns = [
    path("labs/", include(labs.urls.stream_urlpatterns)),
    path("content/", include(lessons.urls.stream_urlpatterns)),
]
