"""Server-sent events from Django views: the wire format and the response around it."""

from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse

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
