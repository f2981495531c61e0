from django.urls import path

from . import views

app_name = "lessons"
urlpatterns = [
    path("", views.home, name="home"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="lesson"),
    path("content/changes/", views.content_changes, name="content-changes"),
]
