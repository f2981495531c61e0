from django.urls import include, path

from . import lab_broker, lab_console, lab_lifecycle, views, views_email

app_name = "labs"
urlpatterns = [
    path("", views.lab_index, name="index"),
    path("<slug:kind>/events/", views.lab_events, name="events"),
    path("<slug:kind>/predict/", views.lab_predict, name="predict"),
    path("ping/", views.ping_lab, name="ping"),
    path("ping/start/", views.ping_start, name="ping-start"),
    path("ping/drop/", views.ping_drop, name="ping-drop"),
    path("broker/", lab_broker.broker_lab, name="broker"),
    path("broker/start/", lab_broker.broker_start, name="broker-start"),
    path("broker/redis/", lab_broker.broker_read, name="broker-read"),
    path("email/", views_email.email_lab, name="email"),
    path("email/send-now/", views_email.email_send_now, name="email-send-now"),
    path(
        "email/send-in-background/",
        views_email.email_send_background,
        name="email-send-background",
    ),
    path("email/ping/", views_email.email_ping, name="email-ping"),
    path("lifecycle/", lab_lifecycle.lifecycle_lab, name="lifecycle"),
    path("lifecycle/start/", lab_lifecycle.lifecycle_start, name="lifecycle-start"),
    path("lifecycle/canvas/", lab_lifecycle.lifecycle_canvas, name="lifecycle-canvas"),
    path("lifecycle/cancel/", lab_lifecycle.lifecycle_cancel, name="lifecycle-cancel"),
    path("pubsub/", include("labs.kinds.pubsub.urls")),
    path("listen/", include("labs.kinds.listen.urls")),
    path("console/", lab_console.console_lab, name="console"),
    path("console/run/", lab_console.console_run, name="console-run"),
    path("console/feed/", lab_console.console_feed, name="console-feed"),
]
