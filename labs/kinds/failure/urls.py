from django.urls import path

from . import views

urlpatterns = [
    path("", views.failure_lab, name="failure"),
    path("start/", views.failure_start, name="failure-start"),
]
