from django.urls import path

from . import views

urlpatterns = [
    path("", views.listen_lab, name="listen"),
    path("start/", views.listen_start, name="listen-start"),
]
