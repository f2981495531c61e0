"""A small HTTP client for the uvicorn server the tests start: cookies, CSRF and SSE."""

import http.cookiejar
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.sessions.backends.db import SessionStore
from django.utils.datastructures import CaseInsensitiveMapping

from learners.identity import SESSION_KEY


@dataclass
class Response:
    status: int
    headers: CaseInsensitiveMapping  # as HTTP names them: uvicorn sends them in lower case
    text: str


@dataclass
class SseEvent:
    id: str
    event: str
    data: str


class LiveClient:
    """One learner: a cookie jar against one server."""

    def __init__(self, base_url: str, cookies: http.cookiejar.CookieJar | None = None) -> None:
        self.base_url = base_url
        self.cookies = cookies if cookies is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def at(self, base_url: str) -> "LiveClient":
        """This learner (the same cookies, so the same session) on another server."""
        return LiveClient(base_url, cookies=self.cookies)

    def _open(self, request: urllib.request.Request, timeout: float):
        try:
            return self.opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            return error

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None,
                timeout: float = 10) -> Response:  # fmt: skip
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=headers or {}
        )
        with self._open(request, timeout) as response:
            headers = CaseInsensitiveMapping(dict(response.headers))
            return Response(response.status, headers, response.read().decode())

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def csrf_token(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def learner_key(self) -> str:
        """The key of this client's learner (their Redis keys and channels), from its session."""
        session_key = next(cookie.value for cookie in self.cookies if cookie.name == "sessionid")
        return SessionStore(session_key=session_key)[SESSION_KEY]

    def htmx_post(self, path: str, data: dict | None = None, **kwargs) -> Response:
        headers = {"HX-Request": "true", "X-CSRFToken": self.csrf_token()}
        return self.request("POST", path, data=data or {}, headers=headers, **kwargs)

    def events(self, path: str, last_event_id: str = "", timeout: float = 20) -> Iterator[SseEvent]:
        """Server-sent events as they arrive; close the generator to drop the connection."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        request = urllib.request.Request(self.base_url + path, headers=headers)
        with self._open(request, timeout) as response:
            if response.status != 200:
                raise AssertionError(f"stream answered {response.status}: {response.read()!r}")
            fields: dict[str, list[str]] = {}
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line:
                    name, _, value = line.partition(":")
                    fields.setdefault(name, []).append(value.removeprefix(" "))
                    continue
                if "event" in fields or "data" in fields:
                    yield SseEvent(
                        id=(fields.get("id") or [""])[-1],
                        event=(fields.get("event") or ["message"])[-1],
                        data="\n".join(fields.get("data", [])),
                    )
                fields = {}


def frame_until(stream: Iterator[SseEvent], predicate, seconds: float = 60) -> str:
    """The lab stream's first "runs" frame whose HTML ``predicate`` accepts, within ``seconds``."""
    deadline = time.monotonic() + seconds
    for event in stream:
        if event.event == "runs" and predicate(event.data):
            return event.data
        assert time.monotonic() < deadline, "no such frame in time"
    raise AssertionError("the stream ended")
