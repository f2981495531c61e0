from django.urls import path

from . import views

# Included under /labs/lifecycle/ into the "labs" namespace: "labs:lifecycle-start"...
urlpatterns = [
    path("", views.lifecycle_lab, name="lifecycle"),
    path("start/", views.lifecycle_start, name="lifecycle-start"),
    path("canvas/", views.lifecycle_canvas, name="lifecycle-canvas"),
    path("cancel/", views.lifecycle_cancel, name="lifecycle-cancel"),
]
