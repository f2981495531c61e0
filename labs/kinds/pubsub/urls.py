from django.urls import path

from . import views

urlpatterns = [
    path("", views.pubsub_lab, name="pubsub"),
    path("send/", views.pubsub_send, name="pubsub-send"),
    path("read/", views.pubsub_read, name="pubsub-read"),
    path("subscriber/start/", views.pubsub_subscriber_start, name="pubsub-subscriber-start"),
    path("subscriber/stop/", views.pubsub_subscriber_stop, name="pubsub-subscriber-stop"),
]
stream_urlpatterns = [path("feed/", views.pubsub_feed, name="pubsub-feed")]
