"""A learner's lab events: kept in a capped Redis Stream per lab, announced on a Redis channel.

Each lab of each learner has its own stream (``learner_stream_key``), capped and expiring on
its own, so a lab that records a lot (the console: an event per command) never pushes another
lab's events out. The stream is the record: a lab page renders from it and a reconnecting
browser reads what it missed from it (the lab's stream ids are the SSE event ids). The learner
has one channel for all their labs. Each announcement carries the event itself, with its lab, its
id and the id of the event before it in that lab's stream (``Announced``): an open stream whose
last id is that previous id takes the event as it comes, without reading the stream; any other
(it missed an announcement, or one carries no event) reads its lab's stream after its last id,
so a slow or missed announcement can never lose an event.
"""

import json
import re
import time
from typing import NamedTuple

from learnsite.redis import aredis_client, redis_client

KEY_PREFIX = "learnsite:learner:"
# Each of a learner's lab streams keeps about this many of its newest events.
STREAM_MAX_EVENTS = 500
# Every key and channel of a learner expires an hour after their last event.
LEARNER_TTL_SECONDS = 3600

# The id before a lab stream's first event, as announced: no entry has it.
NO_EVENT_ID = "0-0"

# XADD, EXPIRE and PUBLISH as one step: no reader can see the announcement before the event is
# in the stream, and no other event can come between the previous id read here and this one.
# The announcement is "<lab> <previous id> <id> <event>" (``announced_parse``). A lab's own
# script that records its events may use these lines with its own KEYS and ARGV.
RECORD_AND_ANNOUNCE = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local previous = newest and newest[1] or '0-0'
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' ' .. previous .. ' ' .. id .. ' ' .. ARGV[1])
"""
_PUBLISH = RECORD_AND_ANNOUNCE + "return id\n"
_ID = re.compile(r"\d{1,20}-\d{1,20}")


class Announced(NamedTuple):
    """One event as its announcement carried it."""

    lab: str
    previous: str  # the id of the event before it in its lab's stream (NO_EVENT_ID: none)
    event_id: str
    event: dict


def announced_parse(data: str) -> Announced | None:
    """The event an announcement carries; None for one that carries none (an older or another
    announcer's, or one cut short), whose streams must read their record instead."""
    lab, _, rest = data.partition(" ")
    previous, _, rest = rest.partition(" ")
    event_id, _, payload = rest.partition(" ")
    if not (payload and _ID.fullmatch(previous) and _ID.fullmatch(event_id)):
        return None
    try:
        return Announced(lab, previous, event_id, json.loads(payload))
    except ValueError:
        return None


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
        lab,
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
