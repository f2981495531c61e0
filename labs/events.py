"""A learner's lab events: kept in a capped Redis Stream per lab, announced on a Redis channel.

Each lab of each learner has its own stream (``learner_stream_key``), capped and expiring on
its own, so a lab that records a lot (the console: an event per command) never pushes another
lab's events out. The stream is the record: a lab page renders from it and a reconnecting
browser reads what it missed from it (the lab's stream ids are the SSE event ids). The learner
has one channel for all their labs. Each announcement says the event's lab, its id and the id
of the event before it in that lab's stream, and carries the frame that event makes for a page
that stands at that previous id, rendered once where the event is recorded (``Announced``,
labs/frames.py): an open stream whose last id is that previous id sends the frame on as it
comes; any other (it missed an announcement, or one carries no frame) reads its lab's stream
after its last id, so a slow or missed announcement can never lose an event.
"""

import json
import re
import time
from typing import NamedTuple

from learnsite.redis import aredis_client, redis_client

from .frames import event_frame

KEY_PREFIX = "learnsite:learner:"
# Each of a learner's lab streams keeps about this many of its newest events.
STREAM_MAX_EVENTS = 500
# Every key and channel of a learner expires an hour after their last event.
LEARNER_TTL_SECONDS = 3600

# The id before a lab stream's first event, as announced: no entry has it.
NO_EVENT_ID = "0-0"

# XADD and EXPIRE as one step, with the id of the event before it: no other event can come
# between that id and this one. The announcement, published once the event's frame is rendered,
# is "<lab> <previous id> <id> <frame>" (``announced_parse``), the frame "" or
# "<next look> <frame>" (labs/frames.py).
_RECORD = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local previous = newest and newest[1] or '0-0'
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {previous, id}
"""
_ID = re.compile(r"\d{1,20}-\d{1,20}")


class Announced(NamedTuple):
    """One event as its announcement told it."""

    lab: str
    previous: str  # the id of the event before it in its lab's stream (NO_EVENT_ID: none)
    event_id: str
    # The frame rendered for a page that stands at ``previous`` ("": none, a stream renders its
    # own), and when that page next looks at its runs with no event (None: never).
    frame: str
    look: float | None


def announced_parse(data: str) -> Announced | None:
    """What an announcement tells; None for one that says less (another announcer's, one cut
    short), whose streams must read their record."""
    parts = data.split(" ", 4)
    if len(parts) < 4 or not (_ID.fullmatch(parts[1]) and _ID.fullmatch(parts[2])):
        return None
    if len(parts) == 4:
        return Announced(*parts[:3], "", None) if not parts[3] else None
    if not parts[4].startswith("id: "):
        return None
    try:
        look = None if parts[3] == "-" else float(parts[3])
    except ValueError:
        return None
    return Announced(*parts[:3], parts[4], look)


def learner_stream_key(learner_id: str, lab: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:events:{lab}"


def learner_channel(learner_id: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:announce"


def _announcement(lab: str, previous: str, event_id: str, frame: str) -> str:
    """What ``announced_parse`` reads: ``frame`` "" for none."""
    return f"{lab} {previous} {event_id} {frame}"


def _record_args(learner_id: str, lab: str, event: dict) -> tuple:
    return (
        _RECORD,
        1,
        learner_stream_key(learner_id, lab),
        json.dumps(event),
        STREAM_MAX_EVENTS,
        LEARNER_TTL_SECONDS,
    )


def event_publish(*, learner_id: str, lab: str, event: dict) -> str:
    """Record one event in the learner's stream of ``lab`` and announce it with its frame
    (labs/frames.py); returns its id there."""
    client = redis_client()
    event = {"at": time.time(), **event}
    previous, event_id = client.eval(*_record_args(learner_id, lab, event))
    frame = event_frame(
        learner_id=learner_id, kind=lab, previous=previous, event_id=event_id, event=event,
        history=lambda since: _decode(
            client.xrange(learner_stream_key(learner_id, lab), min=since, max=event_id)
        ),
    )  # fmt: skip
    client.publish(learner_channel(learner_id), _announcement(lab, previous, event_id, frame))
    return event_id


async def aevent_publish(*, learner_id: str, lab: str, event: dict) -> str:
    """``event_publish`` from a streaming view, announced without a frame: the event loop
    renders none (each open stream of the lab renders its own)."""
    client, event = aredis_client(), {"at": time.time(), **event}
    previous, event_id = await client.eval(*_record_args(learner_id, lab, event))
    await client.publish(learner_channel(learner_id), _announcement(lab, previous, event_id, ""))
    return event_id


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
