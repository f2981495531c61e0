from django.urls import path

from . import staff

app_name = "quiz_staff"
urlpatterns = [
    path("", staff.quiz_stats, name="stats"),
    path("export.csv", staff.quiz_stats_csv, name="export"),
    path("tests.csv", staff.test_stats_csv, name="test_export"),
    path("gradebook/", staff.gradebook, name="gradebook"),
    path("gradebook/export.csv", staff.gradebook_csv, name="gradebook_export"),
]
