from django.urls import path

from . import views

urlpatterns = [
    path("", views.pools_lab, name="pools"),
    path("start/", views.pools_start, name="pools-start"),
]
