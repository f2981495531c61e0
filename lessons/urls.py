from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "lessons"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("courses/<slug:slug>/", views.course_detail, name="course"),
    # The course list is the home page; someone trimming an address lands there.
    path("courses/", RedirectView.as_view(pattern_name="lessons:home"), name="courses"),
    path("lessons/", RedirectView.as_view(pattern_name="lessons:home"), name="lessons"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="lesson"),
    path("lessons/<slug:slug>/read/", views.lesson_read, name="lesson-read"),
]

# Served under /streams/content/ (learnsite/stream_urls.py), in the "streams" namespace.
stream_urlpatterns = [
    path("changes/", views.content_changes, name="content-changes"),
]
