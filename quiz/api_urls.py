from django.urls import path, re_path

from . import api

app_name = "quiz-api"
urlpatterns = [
    path("attempts", api.attempt_create, name="attempts"),
    # Any segment, so that an id that is not a number is a JSON 404 from the view.
    path("attempts/<str:attempt_id>", api.attempt_detail, name="attempt"),
    path("attempts/<str:attempt_id>/answers", api.attempt_answer_create, name="answers"),
    path("attempts/<str:attempt_id>/submit", api.attempt_submit_create, name="submit"),
    path("openapi.json", api.openapi_document, name="openapi"),
    re_path(r"^(?P<path>.*)$", api.not_found),
]
