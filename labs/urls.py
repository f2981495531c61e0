from django.urls import path

from . import views

app_name = "labs"
urlpatterns = [
    path("", views.lab_index, name="index"),
    path("<slug:kind>/events/", views.lab_events, name="events"),
    path("ping/", views.ping_lab, name="ping"),
    path("ping/start/", views.ping_start, name="ping-start"),
]
