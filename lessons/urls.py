from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "lessons"
urlpatterns = [
    path("", views.home, name="home"),
    # The course list is the home page; someone trimming a lesson's address lands there.
    path("lessons/", RedirectView.as_view(pattern_name="lessons:home"), name="lessons"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="lesson"),
]

# Served under /streams/content/ (learnsite/stream_urls.py), in the "streams" namespace.
stream_urlpatterns = [
    path("changes/", views.content_changes, name="content-changes"),
]
