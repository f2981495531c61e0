"""Server-sent events: the wire format, the one heartbeat, and the response around a stream.

Every stream of the site is served under ``STREAM_PREFIX`` (``learnsite/asgi.py`` serves that
prefix outside Django's per-request thread context, so an open page holds no OS thread). A
stream is an async iterator of frames made with ``sse_event``; where it waited
``HEARTBEAT_SECONDS`` with nothing to say it yields ``None``, and ``sse_stream`` sends a
comment instead, which keeps proxies from closing an idle connection.
"""

import asyncio
from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse

STREAM_PREFIX = "/streams/"
HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE = ": keep-alive\n\n"


def sse_event(event: str, data: str, event_id: str = "") -> str:
    lines = [f"id: {event_id}"] if event_id else []
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


async def sse_stream(frames: AsyncIterator[str | None], *, retry_ms: int) -> AsyncIterator[bytes]:
    """The wire around a stream's frames: how long the browser waits before it reconnects by
    itself, then each frame, a keep-alive comment for each ``None``. As bytes, encoded here:
    a str would have the response look its charset up again for every frame."""
    yield f"retry: {retry_ms}\n\n".encode()
    async for frame in frames:
        yield (KEEP_ALIVE if frame is None else frame).encode()


async def woken(wakeup: asyncio.Event, seconds: float = HEARTBEAT_SECONDS) -> bool:
    """Wait for ``wakeup``: False when ``seconds`` passed first (time for a heartbeat)."""
    try:
        await asyncio.wait_for(wakeup.wait(), seconds)
    except TimeoutError:
        return False
    return True


def sse_response(frames: AsyncIterator[str | None], *, retry_ms: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        sse_stream(frames, retry_ms=retry_ms), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response
