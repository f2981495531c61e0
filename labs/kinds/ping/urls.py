from django.urls import path

from . import views

urlpatterns = [
    path("", views.ping_lab, name="ping"),
    path("start/", views.ping_start, name="ping-start"),
    path("drop/", views.ping_drop, name="ping-drop"),
]
