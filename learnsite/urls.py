from django.contrib import admin
from django.urls import include, path

from labs.kinds.pubsub import urls as pubsub_urls

from .health import healthz

urlpatterns = [
    path("", include("lessons.urls")),
    path("", include("quiz.urls")),
    path("labs/", include("labs.urls")),
    # TEMPORARY: the pubsub lab's feed, until the "streams" namespace is wired on main.
    path("streams/labs/pubsub/", include((pubsub_urls.stream_urlpatterns, "streams"))),
    path("api/v1/", include("quiz.api_urls")),
    path("accounts/", include("learnsite.accounts_urls")),
    path("staff/quiz/", include("quiz.staff_urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
