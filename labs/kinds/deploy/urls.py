from django.urls import path

from . import views

urlpatterns = [
    path("", views.deploy_lab, name="deploy"),
    path("start/", views.deploy_start, name="deploy-start"),
]
