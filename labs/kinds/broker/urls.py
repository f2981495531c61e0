from django.urls import path

from . import views

urlpatterns = [
    path("", views.broker_lab, name="broker"),
    path("start/", views.broker_start, name="broker-start"),
    path("redis/", views.broker_read, name="broker-read"),
]
