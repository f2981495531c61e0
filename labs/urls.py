"""The labs' pages under /labs/: the index, predictions, and each kind's own urls module
(``labs/kinds/<kind>/urls.py``), included for every lab in the registry. A kind's
``stream_urlpatterns`` (a feed of its own) go under /streams/labs/<kind>/ instead."""

from importlib import import_module

from django.urls import include, path

from . import pages
from .registry import LAB_KINDS

_kind_urls = {kind: import_module(f"labs.kinds.{kind}.urls") for kind in LAB_KINDS}

app_name = "labs"
urlpatterns = [
    path("", pages.lab_index, name="index"),
    path("<slug:kind>/predict/", pages.lab_predict, name="predict"),
    *(path(f"{kind}/", include(module.urlpatterns)) for kind, module in _kind_urls.items()),
]

# Served under /streams/labs/ (learnsite/stream_urls.py), in the "streams" namespace.
stream_urlpatterns = [
    path("<slug:kind>/events/", pages.lab_events, name="lab-events"),
    *(
        path(f"{kind}/", include(module.stream_urlpatterns))
        for kind, module in _kind_urls.items()
        if hasattr(module, "stream_urlpatterns")
    ),
]
