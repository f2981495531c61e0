from django.contrib import admin
from django.urls import include, path

from .health import healthz, healthz_live, healthz_ready

urlpatterns = [
    # First: an open stream keeps its request's URL match, with every pattern tried before it,
    # for as long as its page is open.
    path("streams/", include("learnsite.stream_urls")),
    path("", include("lessons.urls")),
    path("", include("quiz.urls")),
    path("labs/", include("labs.urls")),
    path("api/v1/", include("quiz.api_urls")),
    path("accounts/", include("learnsite.accounts_urls")),
    path("staff/quiz/", include("quiz.staff_urls")),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", healthz_live, name="healthz-live"),
    path("healthz/ready", healthz_ready, name="healthz-ready"),
    path("lti/", include("lti.urls")),
    path("admin/", admin.site.urls),
]
