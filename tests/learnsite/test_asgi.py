"""The site's ASGI application (learnsite/asgi.py), called as uvicorn calls it: static files
answered before Django, every other request through Django's middleware in a pooled thread."""

import asyncio
import gc
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIRequest

from learnsite.asgi import WAITING_THREADS, application, waits_on_network
from learnsite.hub import event_hub
from learnsite.middleware import NUL_REFUSED
from learnsite.redis import redis_client
from lessons.live_reload import CONTENT_CHANNEL

SITE_CSS = settings.BASE_DIR / "static" / "css" / "site.css"


def asgi_request(path: str, *, method: str = "GET", headers: dict | None = None):
    """(status, headers with lower-case names, body) of one request to the application."""
    return asyncio.run(_asgi_request(path, method=method, headers=headers))


def http_scope(path: str, *, method: str = "GET", headers: dict | None = None) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
    }  # fmt: skip


async def _asgi_request(path: str, *, method: str, headers: dict | None):
    app = ApplicationCommunicator(application, http_scope(path, method=method, headers=headers))
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(timeout=10)
    body = b""
    while True:
        message = await app.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await app.wait(timeout=10)
    names = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], names, body


def test_a_static_file_is_answered_before_django_with_servestatics_headers():
    status, headers, body = asgi_request("/static/css/site.css")
    assert status == 200 and body == SITE_CSS.read_bytes()
    assert headers["content-type"].startswith("text/css") and "etag" in headers
    assert "content-security-policy" not in headers  # Django's middleware never saw it


def test_a_range_of_a_static_file_is_its_bytes():
    status, headers, body = asgi_request("/static/css/site.css", headers={"Range": "bytes=10-19"})
    assert status == 206 and body == SITE_CSS.read_bytes()[10:20], headers


def test_an_unknown_static_address_is_djangos_404():
    status, headers, _ = asgi_request("/static/css/no-such-file.css")
    assert status == 404 and "content-security-policy" in headers


def test_a_page_goes_through_djangos_middleware():
    status, headers, body = asgi_request("/healthz/live")
    assert status == 200 and b'"ok": true' in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_a_post_without_its_csrf_token_is_refused():
    status, _, _ = asgi_request("/lessons/any-lesson/read/", method="POST")
    assert status == 403


def test_a_page_answers_while_every_thread_for_waiting_requests_is_held():
    """A class sending mail the slow way fills the pool of the requests that wait on the
    network; the pages have their own."""
    release = threading.Event()
    held = [application.waiting_threads.submit(release.wait) for _ in range(WAITING_THREADS)]
    try:
        status, _, _ = asgi_request("/healthz/live")
        assert status == 200
        assert not any(job.done() for job in held)  # they were all still held meanwhile
    finally:
        release.set()


@pytest.mark.parametrize(
    ("method", "path", "waits"),
    [
        ("POST", "/labs/email/send/", True),
        ("POST", "/labs/ping/start/", True),
        ("GET", "/labs/ping/", False),
        ("GET", "/healthz/ready", True),
        ("GET", "/healthz/live", False),
        ("POST", "/lti/launch/", True),
        ("POST", "/api/v1/attempts", False),
        ("GET", "/lessons/offloading-slow-work/", False),
    ],
)
def test_the_requests_that_may_wait_on_the_network_are_told_from_the_pages(method, path, waits):
    assert waits_on_network({"method": method, "path": path}) is waits


def requests_alive() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, ASGIRequest))


# The request signals close the database connections of the thread that sync work of the
# streams shares, which an earlier test in this process may have left open.
@pytest.mark.django_db
def test_an_open_stream_sends_its_frames_keeps_no_request_and_ends_when_its_client_leaves(
    redis_url, settings
):
    """Served by learnsite/asgi.py's handle_stream: once the head is sent the request is over
    (request_finished, once) and the stream holds its frames only; a closed connection ends it
    at its wait, and its wake-up is let go."""
    settings.CONTENT_AUTHORING = True
    finished = []

    def request_finished(**kwargs) -> None:
        finished.append(kwargs["sender"])

    async def scenario() -> None:
        before = requests_alive()
        app = ApplicationCommunicator(application, http_scope("/streams/content/changes/"))
        await app.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await app.receive_output(timeout=10)
        assert start["status"] == 200
        assert (b"Content-Type", b"text/event-stream") in start["headers"]
        assert (await app.receive_output(timeout=10))["body"] == b"retry: 2000\n\n"
        hub = event_hub()  # this loop's: its task starts when the stream listens
        await asyncio.wait_for(hub.connected.wait(), 10)
        assert hub.listener_count() == 1
        assert requests_alive() == before  # the request went once the view had answered
        assert len(finished) == 1

        redis_client().publish(CONTENT_CHANNEL, "changed")
        frame = await app.receive_output(timeout=10)
        assert frame["body"].startswith(b"event: reload\n") and frame["more_body"]

        await app.send_input({"type": "http.disconnect"})
        await app.wait(timeout=10)  # the application returned: the stream ended, no error
        assert hub.listener_count() == 0 and len(finished) == 1

    signals.request_finished.connect(request_finished)
    try:
        asyncio.run(scenario())
    finally:
        signals.request_finished.disconnect(request_finished)


@pytest.mark.django_db
def test_a_stream_refused_by_its_view_is_answered_whole():
    status, headers, body = asgi_request("/streams/labs/ping/events/")
    assert status == 400 and b"Open a lab page first" in body
    assert "default-src 'self'" in headers["content-security-policy"]


def test_a_stream_with_a_nul_in_its_path_is_refused_by_the_async_chain(db):
    # The streams' middleware chain is async (handle_stream): the NUL check runs in it as well.
    status, _, body = asgi_request("/streams/labs/ping\x00/events/")
    assert status == 400 and body.decode() == NUL_REFUSED
