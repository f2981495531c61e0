"""Pages paid for once per content version: what every learner sees alike is built and rendered
once per process and version, and only the learner's small part is done per request.

``content_load`` calls ``content_version_bump`` in its transaction, so every process sees the
new version once the load commits, and not before: at once in authoring mode, else within
``CONTENT_VERSION_SECONDS`` (each process reads the version again at most that often, so a
page hit costs no query). The cache is the process's memory (the "pages" cache in settings): a
page is rendered again by each process once per version, which costs milliseconds, and a
deploy that changes a template starts with an empty cache.
"""

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers

from .models import ContentVersion

# Stands for the CSRF token in a cached page; each response gets the learner's own token.
CSRF_MARKER = "__learnsite_csrf_token__"


# (when it was read, the version) in this process: see content_version_current.
_version_read: tuple[float, str | None] | None = None


def _version_forget() -> None:
    global _version_read
    _version_read = None


def content_version_bump() -> str:
    """A new version for the content; call it inside the transaction that writes the content."""
    token = secrets.token_hex(8)
    ContentVersion.objects.update_or_create(pk=1, defaults={"token": token})
    # This process reads it again (a read made before the commit would keep the old one).
    _version_forget()
    transaction.on_commit(_version_forget)
    return token


def content_version_current() -> str | None:
    """The version of the loaded content, or None if nothing was ever loaded: read from the
    database at most once per ``CONTENT_VERSION_SECONDS`` in this process."""
    global _version_read
    now = time.monotonic()
    if _version_read is None or now - _version_read[0] >= settings.CONTENT_VERSION_SECONDS:
        token = ContentVersion.objects.filter(pk=1).values_list("token", flat=True).first()
        _version_read = (now, token)
    return _version_read[1]


# One build at a time in a process: the requests that miss a page at once (a new version, or a
# process's start, under load) wait for the first one's build instead of each rendering it.
# Reentrant: a page's build reads its parts through rendered_cached.
_build_lock = threading.RLock()


def rendered_cached[T](*, version: str | None, key: str, build: Callable[[], T | None]) -> T | None:
    """What ``build`` returns for this content version, built once per process. A None (an
    unknown slug) is not kept, so requests for made-up addresses cannot fill the cache."""
    if version is None:  # content written without content_load (never by the site): no cache
        return build()
    cache = caches["pages"]
    full_key = f"{version}:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"
    value = cache.get(full_key)
    if value is None:
        with _build_lock:
            value = cache.get(full_key)  # built while this request waited
            if value is None:
                value = build()
                if value is not None:
                    cache.set(full_key, value)
    return value


def page_etag(request: HttpRequest, *parts: object) -> str | None:
    """An ETag for this learner's copy of a page: ``parts`` are everything the page shows that
    varies (content version, the learner's progress); who they are and their CSRF secret are
    added here. None when the page will carry a new CSRF secret: that page is never a 304."""
    csrf_secret = request.COOKIES.get(settings.CSRF_COOKIE_NAME)
    if not csrf_secret:
        return None
    who = (request.user.pk, request.user.get_username(), request.session.session_key)
    digest = hashlib.blake2b(repr((who, csrf_secret, parts)).encode(), digest_size=16)
    return f'"{digest.hexdigest()}"'


def page_conditional(
    request: HttpRequest, *, etag: str | None, render: Callable[[], HttpResponse]
) -> HttpResponse:
    """A 304 when the learner's browser holds this very page, else the page rendered.

    Private and revalidated on every use: no shared cache keeps it, and the browser asks
    again each time, so progress made elsewhere shows at once."""
    response = get_conditional_response(request, etag=etag) if etag else None
    if response is None:
        response = render()
    if etag and response.status_code in (200, 304):
        response.headers["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["Cookie"])
    return response


def page_rendered(
    request: HttpRequest,
    *,
    version: str | None,
    key: str,
    template: str,
    context: Callable[[], dict],
) -> HttpResponse:
    """``template`` rendered once per content version and ``key`` (which must name everything
    the page shows of the learner but who they are), then served as is: the request pays for
    no template, only for putting in its CSRF token. The user and the address are added to
    the key here; an address with a query string is rendered each time (nothing to gain).
    ``context`` is called only to render, so what only the template needs costs nothing on a
    cache hit."""
    if request.GET:
        return HttpResponse(render_to_string(template, context(), request))
    full_key = f"page:{key}:{request.path}:{request.user.pk}"
    html = rendered_cached(
        version=version,
        key=full_key,
        build=lambda: render_to_string(template, {**context(), "csrf_token": CSRF_MARKER}, request),
    )
    return HttpResponse(html.replace(CSRF_MARKER, get_token(request)))
