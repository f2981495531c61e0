"""A learner's lab events: kept in a capped Redis Stream per lab, announced on a Redis channel.

Each lab of each learner has its own stream (``learner_stream_key``), capped and expiring on
its own, so a lab that records a lot (the console: an event per command) never pushes another
lab's events out. The stream is the record: a lab page renders from it and a reconnecting
browser reads what it missed from it (the lab's stream ids are the SSE event ids). The learner
has one channel for all their labs: it only says "something new", so every open stream of the
learner reads its own lab's stream again, and a slow or missed announcement can never lose an
event; the next read catches up.
"""

import json
import time

from learnsite.redis import aredis_client, redis_client

KEY_PREFIX = "learnsite:learner:"
# Each of a learner's lab streams keeps about this many of its newest events.
STREAM_MAX_EVENTS = 500
# Every key and channel of a learner expires an hour after their last event.
LEARNER_TTL_SECONDS = 3600

# XADD, EXPIRE and PUBLISH as one step: no reader can see the announcement before the event is
# in the stream. The announcement carries the new event's id in its lab's stream, which says
# nothing about another lab's: readers only take it as a wake-up.
_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id)
return id
"""


def learner_stream_key(learner_id: str, lab: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:events:{lab}"


def learner_channel(learner_id: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:announce"


def _publish_args(learner_id: str, lab: str, event: dict) -> tuple:
    return (
        _PUBLISH,
        2,
        learner_stream_key(learner_id, lab),
        learner_channel(learner_id),
        json.dumps({"at": time.time(), **event}),
        STREAM_MAX_EVENTS,
        LEARNER_TTL_SECONDS,
    )


def event_publish(*, learner_id: str, lab: str, event: dict) -> str:
    """Record one event in the learner's stream of ``lab`` and announce it; returns its id
    there."""
    return redis_client().eval(*_publish_args(learner_id, lab, event))


async def aevent_publish(*, learner_id: str, lab: str, event: dict) -> str:
    """``event_publish`` from a streaming view."""
    return await aredis_client().eval(*_publish_args(learner_id, lab, event))


def _decode(entries: list) -> list[tuple[str, dict]]:
    return [(entry_id, json.loads(fields["event"])) for entry_id, fields in entries]


def events_read(*, learner_id: str, lab: str) -> list[tuple[str, dict]]:
    """All of the learner's recorded events of ``lab``, oldest first."""
    return _decode(redis_client().xrange(learner_stream_key(learner_id, lab)))


def events_read_labs(*, learner_id: str, labs) -> dict[str, list[tuple[str, dict]]]:
    """The learner's recorded events of each of ``labs``, oldest first, by lab: one round trip
    to Redis for all of them."""
    labs = list(labs)
    pipe = redis_client().pipeline(transaction=False)
    for lab in labs:
        pipe.xrange(learner_stream_key(learner_id, lab))
    return {lab: _decode(entries) for lab, entries in zip(labs, pipe.execute(), strict=True)}


async def aevents_read(*, learner_id: str, lab: str, after: str = "-") -> list[tuple[str, dict]]:
    """The learner's events of ``lab`` after the id ``after`` in that lab's stream (all of them
    by default)."""
    start = after if after == "-" else f"({after}"
    return _decode(await aredis_client().xrange(learner_stream_key(learner_id, lab), min=start))
