"""Server-sent events from Django views: the wire format and the response around it."""

import contextlib
import time
from collections.abc import AsyncIterator

from django.http import HttpResponse, StreamingHttpResponse
from redis.exceptions import RedisError

from .limits import STREAMS_PER_LEARNER, stream_refresh, stream_register, stream_unregister

HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE = ": keep-alive\n\n"


def sse_event(event: str, data: str, event_id: str = "") -> str:
    lines = [f"id: {event_id}"] if event_id else []
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


def sse_response(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response


async def counted_sse_response(*, learner_id: str, stream: AsyncIterator[str]) -> HttpResponse:
    """``stream`` as a response that counts in the learner's open streams while it is open;
    over STREAMS_PER_LEARNER, a 429 instead, and the stream never starts."""
    try:
        stream_id = await stream_register(learner_id=learner_id)
    except (RedisError, OSError):
        stream_id = ""  # not counted: the stream itself will say that Redis is away
    if stream_id is None:
        await stream.aclose()
        message = (
            f"You have {STREAMS_PER_LEARNER} lab pages open (feeds count too), "
            "the limit: close one."
        )
        return HttpResponse(message, status=429)
    return sse_response(_counted(stream, learner_id=learner_id, stream_id=stream_id))


async def _counted(stream: AsyncIterator[str], *, learner_id: str, stream_id: str
                   ) -> AsyncIterator[str]:  # fmt: skip
    """The stream, kept in the learner's count of open streams until it closes (for any reason:
    under ASGI a closed tab cancels the stream at its current await, and ``finally`` runs)."""
    refreshed = time.monotonic()
    try:
        async for chunk in stream:
            if stream_id and time.monotonic() - refreshed > HEARTBEAT_SECONDS:
                refreshed = time.monotonic()
                with contextlib.suppress(RedisError, OSError):
                    await stream_refresh(learner_id=learner_id, stream_id=stream_id)
            yield chunk
    finally:
        await stream.aclose()
        if stream_id:
            with contextlib.suppress(RedisError, OSError):
                await stream_unregister(learner_id=learner_id, stream_id=stream_id)
