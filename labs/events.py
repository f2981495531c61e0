"""A learner's lab events: kept in a capped Redis Stream, announced on a Redis channel.

The stream is the record: a page renders from it and a reconnecting browser reads what it
missed from it (stream ids are the SSE event ids). The channel only says "something new", so a
slow or missed announcement can never lose an event; the next read of the stream catches up.
"""

import json
import time

from learnsite.redis import aredis_client, redis_client

KEY_PREFIX = "learnsite:learner:"
STREAM_MAX_EVENTS = 500
# Every key and channel of a learner expires an hour after their last event.
LEARNER_TTL_SECONDS = 3600
# The events after which a run is over, whatever its lab.
TERMINAL_KINDS = {"succeeded", "failed", "revoked"}
# Recorded by a lab's event stream that a browser reconnected to with Last-Event-ID: ``after``
# (that id) and ``replayed`` (how many of the lab's events it had missed).
STREAM_RESUMED = "stream-resumed"

# XADD, EXPIRE and PUBLISH as one step: the announcement carries the new event's id, and no
# reader can see the announcement before the event is in the stream.
_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id)
return id
"""


def learner_stream_key(learner_id: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:events"


def learner_channel(learner_id: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:announce"


def _publish_args(learner_id: str, event: dict) -> tuple:
    return (
        _PUBLISH,
        2,
        learner_stream_key(learner_id),
        learner_channel(learner_id),
        json.dumps({"at": time.time(), **event}),
        STREAM_MAX_EVENTS,
        LEARNER_TTL_SECONDS,
    )


def event_publish(*, learner_id: str, event: dict) -> str:
    """Record one event for the learner and announce it; returns its stream id."""
    return redis_client().eval(*_publish_args(learner_id, event))


async def aevent_publish(*, learner_id: str, event: dict) -> str:
    """``event_publish`` from a streaming view."""
    return await aredis_client().eval(*_publish_args(learner_id, event))


def stream_id_after(stream_id: str, than: str) -> bool:
    """Whether ``stream_id`` comes after ``than``: ids compare as two numbers, not as text."""

    def key(value: str) -> tuple[int, int]:
        ms, _, seq = value.partition("-")
        return int(ms), int(seq or 0)

    return key(stream_id) > key(than)


def _decode(entries: list) -> list[tuple[str, dict]]:
    return [(entry_id, json.loads(fields["event"])) for entry_id, fields in entries]


def events_read(*, learner_id: str) -> list[tuple[str, dict]]:
    """All of the learner's recorded events, oldest first."""
    return _decode(redis_client().xrange(learner_stream_key(learner_id)))


async def aevents_read(*, learner_id: str, after: str = "-") -> list[tuple[str, dict]]:
    """The learner's events after the stream id ``after`` (all of them by default)."""
    start = after if after == "-" else f"({after}"
    return _decode(await aredis_client().xrange(learner_stream_key(learner_id), min=start))
