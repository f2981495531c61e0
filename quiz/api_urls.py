"""ninja's URLs for the API, each answering a method it does not take in JSON; any other path,
the root included (ninja's root is a plain 404), is a JSON 404."""

from django.urls import path, re_path

from .api import api, json_405, not_found

ninja_urls, _, _ = api.urls
urlpatterns = [
    *(path(str(url.pattern), json_405(url.callback)) for url in ninja_urls if str(url.pattern)),
    re_path(r"^(?P<path>.*)$", not_found),
]
