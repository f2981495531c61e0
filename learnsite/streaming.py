"""Server-sent events: the wire format, the one heartbeat, and the response around a stream.

Every stream of the site is served under ``STREAM_PREFIX`` (``learnsite/asgi.py`` serves that
prefix outside Django's per-request thread context, so an open page holds no OS thread). A
stream is an async iterator of frames made with ``sse_event``; where it waited
``HEARTBEAT_SECONDS`` with nothing to say it yields ``None``, and ``sse_stream`` sends a
comment instead, which keeps proxies from closing an idle connection.
"""

import re
from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse

STREAM_PREFIX = "/streams/"
HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE = ": keep-alive\n\n"
_CR = re.compile(r"\r\n?")


def sse_event(event: str, data: str, event_id: str = "") -> str:
    head = f"id: {event_id}\nevent: {event}\n" if event_id else f"event: {event}\n"
    # A line of the wire ends at CR LF, LF or CR, and each of the data's lines goes on one of
    # its own; a line end closing the data is not one more (empty) line.
    if "\r" in data:
        data = _CR.sub("\n", data)
    data = data.removesuffix("\n").replace("\n", "\ndata: ")
    return f"{head}data: {data}\n\n"


async def sse_stream(frames: AsyncIterator[str | None], *, retry_ms: int) -> AsyncIterator[bytes]:
    """The wire around a stream's frames: how long the browser waits before it reconnects by
    itself, then each frame, a keep-alive comment for each ``None``. As bytes, encoded here:
    a str would have the response look its charset up again for every frame."""
    yield f"retry: {retry_ms}\n\n".encode()
    async for frame in frames:
        yield (KEEP_ALIVE if frame is None else frame).encode()
        del frame  # sent: not held while the stream waits for its next


class EventStreamResponse(StreamingHttpResponse):
    """A stream's response. Its frames are bytes already, so it iterates as them, not through
    StreamingHttpResponse's two wrapping generators, which hold the response (its headers and
    cookies) for as long as the stream is open; ``learnsite/asgi.py`` keeps only the frames
    once the head is sent."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        # Set by StreamingHttpResponse whenever its content is (a middleware's wrap too).
        return self._iterator


def sse_response(frames: AsyncIterator[str | None], *, retry_ms: int) -> EventStreamResponse:
    response = EventStreamResponse(
        sse_stream(frames, retry_ms=retry_ms), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response
