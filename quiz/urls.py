from django.urls import path

from . import views

app_name = "quiz"
urlpatterns = [
    path("lessons/<slug:slug>/attempts/", views.attempt_create, name="attempt-create"),
    path("review/", views.review_home, name="review"),
    path("review/start/", views.review_start, name="review-start"),
    path("attempts/<int:pk>/", views.attempt_detail, name="attempt"),
    path("attempts/<int:pk>/answer/", views.answer_create, name="answer"),
    path("attempts/<int:pk>/hint/", views.hint_create, name="hint"),
    path("attempts/<int:pk>/submit/", views.attempt_submit_view, name="submit"),
]
