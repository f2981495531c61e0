from django.urls import path

from . import views

urlpatterns = [
    path("", views.routing_lab, name="routing"),
    path("start/", views.routing_start, name="routing-start"),
]
