from django.urls import path

from . import views

urlpatterns = [
    path("", views.watch_lab, name="watch"),
    path("start/", views.watch_start, name="watch-start"),
]
