from django.urls import path

from . import staff

app_name = "quiz_staff"
urlpatterns = [
    path("", staff.quiz_stats, name="stats"),
    path("export.csv", staff.quiz_stats_csv, name="export"),
]
