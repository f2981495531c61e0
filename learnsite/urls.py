from django.contrib import admin
from django.urls import include, path

from .health import healthz

urlpatterns = [
    path("", include("lessons.urls")),
    path("labs/", include("labs.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
