from django.urls import path

from . import views

urlpatterns = [
    path("", views.email_lab, name="email"),
    path("send-now/", views.email_send_now, name="email-send-now"),
    path("send-in-background/", views.email_send_background, name="email-send-background"),
    path("ping/", views.email_ping, name="email-ping"),
]
