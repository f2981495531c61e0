from django.urls import path

from . import views

urlpatterns = [
    path("", views.console_lab, name="console"),
    path("run/", views.console_run, name="console-run"),
]

# Served under /streams/labs/console/, in the "streams" namespace.
stream_urlpatterns = [path("feed/", views.console_feed, name="console-feed")]
