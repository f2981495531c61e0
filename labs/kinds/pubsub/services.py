"""The "Publish and subscribe" lab's work: PUBLISH to real subscribers, and what happens with none.

The learner's short channel names become ``learnsite-labs:learner:<their key>:pubsub:<name>``
(``labs.channels.real_channel``), built from the session, so that nobody reaches another
learner's channels. (Kept apart from the site's own ``learnsite:`` channels, which each web
process's event hub pattern-subscribes to: a pattern subscriber that matched would count in
PUBLISH's reply as one more "subscriber" per web process.)

The subscribers, all real Redis subscriptions:

- each open tab of the lab page: its live feed (``views.pubsub_feed``, a server-sent event
  stream) holds a subscription of its own while the tab is open (``feed_subscribe``), and
  records every message it gets (``delivery_event``);
- the Python subscriber: a Celery task whose background thread reads with
  ``pubsub.get_message(timeout=…)`` for at most ``SUBSCRIBER_SECONDS``, until the learner stops it
  (``subscriber_execute``).

PUBLISH answers with the number of deliveries: one per subscribed connection whose channels
match, plus one per matching pattern subscription (a connection with both counts twice). The
same message sent to a Redis list (LPUSH, read with BRPOP) or a stream (XADD, read with XREAD)
waits for a reader; sent on a channel nobody listens to, it is gone.
"""

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from labs.channels import channel_base, real_channel
from labs.events import (
    KEY_PREFIX,
    LEARNER_TTL_SECONDS,
    STREAM_MAX_EVENTS,
    event_publish,
    events_read,
    learner_channel,
    learner_stream_key,
)
from labs.limits import learner_allows
from labs.services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited, lab_run_start
from learnsite.redis import redis_client, subscriber_client

from .fold import PubsubFold
from .parse import (
    MESSAGE_MAX_CHARS,
    ChannelInvalid,
    Subscription,
    channel_parse,
    message_parse,
    subscription_parse,
)

LAB = "pubsub"

LIST_MAX_ITEMS = 100
STREAM_MAX_ENTRIES = 100
STREAM_READ_COUNT = 10
# Under the Redis client's read timeout (REDIS_TIMEOUT_SECONDS), or the client gives up first.
BRPOP_TIMEOUT_SECONDS = 0.5
ACTIONS_PER_MINUTE = 30

# The Python subscriber listens this long at most; it looks for a stop request this often.
SUBSCRIBER_SECONDS = 60
SUBSCRIBER_READ_TIMEOUT_SECONDS = 0.5
SUBSCRIBE_CONFIRM_SECONDS = 5.0

VIAS = {"pubsub": "PUBLISH", "list": "LPUSH", "stream": "XADD", "all": "all three"}
READ_VIAS = {"list": "BRPOP", "stream": "XREAD"}


# Names in Redis. The learner's key comes from the session; the short name is checked, and
# neither can hold a glob character, so a pattern never reaches past the learner's channels.


def _short(learner_id: str, channel: str | None) -> str:
    return (channel or "").removeprefix(channel_base(learner_id))


def _list_key(learner_id: str, name: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:pubsub:list:{name}"


def _stream_key(learner_id: str, name: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:pubsub:stream:{name}"


def _stream_read_key(learner_id: str, name: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:pubsub:stream-read:{name}"


def _stop_key(learner_id: str, run_id: str) -> str:
    return f"{KEY_PREFIX}{learner_id}:pubsub:stop:{run_id}"


# Sending and reading.

# PUBLISH, then the event that records its reply, as one step: a subscriber's "received" event
# can only come after it, so every delivery finds the publish it belongs to.
_PUBLISH_RECORDED = """
local receivers = redis.call('PUBLISH', ARGV[4], ARGV[5])
local event = cjson.decode(ARGV[1])
event['receivers'] = receivers
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', cjson.encode(event))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id)
return receivers
"""


@dataclass(frozen=True)
class Sent:
    channel: str
    data: str
    receivers: int | None = None  # PUBLISH's reply
    list_length: int | None = None  # LPUSH's reply
    entry: str = ""  # XADD's reply
    stream_length: int | None = None


@dataclass(frozen=True)
class Read:
    via: str
    channel: str
    items: list[tuple[str, str]]  # (stream entry id or "", message)
    remaining: int  # the list's length after BRPOP, the stream's after XREAD

    @property
    def command(self) -> str:
        return READ_VIAS[self.via]


def _event(kind: str, **fields) -> dict:
    return {"kind": kind, "lab": LAB, **fields}


def _actions_allowed(learner_id: str) -> None:
    if not learner_allows(
        learner_id=learner_id, action=f"{LAB}-actions", per_minute=ACTIONS_PER_MINUTE
    ):
        raise RateLimited(
            f"You sent or read {ACTIONS_PER_MINUTE} times in the last minute, the limit. "
            "Try again in a minute."
        )


def _publish(*, learner_id: str, channel: str, data: str) -> int:
    event = _event("published", channel=channel, data=data, at=time.time())
    return redis_client().eval(
        _PUBLISH_RECORDED,
        2,
        learner_stream_key(learner_id, LAB),
        learner_channel(learner_id),
        json.dumps(event),
        STREAM_MAX_EVENTS,
        LEARNER_TTL_SECONDS,
        real_channel(learner_id, channel),
        data,
    )


def _push(*, learner_id: str, channel: str, data: str) -> int:
    key = _list_key(learner_id, channel)
    pipe = redis_client().pipeline(transaction=True)
    pipe.lpush(key, data)
    pipe.ltrim(key, 0, LIST_MAX_ITEMS - 1)
    pipe.expire(key, LEARNER_TTL_SECONDS)
    length, _, _ = pipe.execute()
    length = min(length, LIST_MAX_ITEMS)
    event_publish(
        learner_id=learner_id,
        lab=LAB,
        event=_event("pushed", channel=channel, data=data, length=length),
    )
    return length


def _add(*, learner_id: str, channel: str, data: str) -> tuple[str, int]:
    key = _stream_key(learner_id, channel)
    pipe = redis_client().pipeline(transaction=True)
    pipe.xadd(key, {"message": data}, maxlen=STREAM_MAX_ENTRIES, approximate=True)
    pipe.expire(key, LEARNER_TTL_SECONDS)
    pipe.xlen(key)
    entry, _, length = pipe.execute()
    event = _event("added", channel=channel, data=data, entry=entry, length=length)
    event_publish(learner_id=learner_id, lab=LAB, event=event)
    return entry, length


def message_send(*, learner_id: str, channel: str, data: str, via: str) -> Sent:
    """Send one message on the learner's channel ``channel``: PUBLISH it, LPUSH it onto the
    list, XADD it to the stream, or all three (``via``)."""
    if via not in VIAS:
        raise LabError("Choose PUBLISH, LPUSH, XADD or all three.")
    channel, data = channel_parse(channel), message_parse(data)
    try:
        _actions_allowed(learner_id)
        sent = {"channel": channel, "data": data}
        if via in {"pubsub", "all"}:
            sent["receivers"] = _publish(learner_id=learner_id, channel=channel, data=data)
        if via in {"list", "all"}:
            sent["list_length"] = _push(learner_id=learner_id, channel=channel, data=data)
        if via in {"stream", "all"}:
            sent["entry"], sent["stream_length"] = _add(
                learner_id=learner_id, channel=channel, data=data
            )
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    return Sent(**sent)


def message_read(*, learner_id: str, channel: str, via: str) -> Read:
    """Read what waits on the list (BRPOP: the oldest item, removed) or the stream (XREAD: the
    entries after the learner's last read, which stay in the stream)."""
    if via not in READ_VIAS:
        raise LabError("Read the list (BRPOP) or the stream (XREAD): a channel keeps nothing.")
    channel = channel_parse(channel)
    client = redis_client()
    try:
        _actions_allowed(learner_id)
        if via == "list":
            key = _list_key(learner_id, channel)
            popped = client.brpop([key], timeout=BRPOP_TIMEOUT_SECONDS)
            items = [("", popped[1])] if popped else []
            remaining = client.llen(key)
            event = _event("popped", channel=channel, items=items, length=remaining)
        else:
            key, position_key = (
                _stream_key(learner_id, channel),
                _stream_read_key(learner_id, channel),
            )
            after = client.get(position_key) or "0-0"
            reply = client.xread({key: after}, count=STREAM_READ_COUNT)
            items = (
                [(entry, fields.get("message", "")) for entry, fields in reply[0][1]]
                if reply
                else []
            )
            if items:
                client.set(position_key, items[-1][0], ex=LEARNER_TTL_SECONDS)
            remaining = client.xlen(key)
            event = _event("read", channel=channel, items=items, length=remaining, after=after)
        event_publish(learner_id=learner_id, lab=LAB, event=event)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    return Read(via=via, channel=channel, items=items, remaining=remaining)


# A subscriber's deliveries, and a tab's live feed.


def delivery_event(learner_id: str, message: dict, *, subscriber: str, **fields) -> dict:
    """The "received" event of one message a subscriber got."""
    return _event(
        "received",
        subscriber=subscriber,
        channel=_short(learner_id, message["channel"]),
        pattern=_short(learner_id, message.get("pattern")),
        data=str(message["data"])[:MESSAGE_MAX_CHARS],
        **fields,
    )


async def feed_subscribe(pubsub, *, learner_id: str, subscription: Subscription) -> None:
    """Subscribe a tab's own connection ``pubsub`` (redis.asyncio) to the learner's channels
    and patterns of ``subscription``; raises RedisError unless Redis confirms them all in time."""
    loop = asyncio.get_running_loop()
    if subscription.channels:
        await pubsub.subscribe(*(real_channel(learner_id, c) for c in subscription.channels))
    if subscription.patterns:
        await pubsub.psubscribe(*(real_channel(learner_id, p) for p in subscription.patterns))
    confirmed, deadline = 0, loop.time() + SUBSCRIBE_CONFIRM_SECONDS
    while confirmed < subscription.size and loop.time() < deadline:
        message = await pubsub.get_message(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS)
        if message and message["type"] in {"subscribe", "psubscribe"}:
            confirmed += 1
    if confirmed < subscription.size:
        raise RedisError("no confirmation")


# The Python subscriber.


def _runs(learner_id: str):
    return PubsubFold.fold(events_read(learner_id=learner_id, lab=LAB), now=time.time())


def subscriber_run_start(*, learner_id: str, subscription: Subscription, task) -> str:
    """Queue the learner's Python subscriber, the Celery ``task`` (one at a time); returns the
    run id."""
    try:
        runs = _runs(learner_id)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    if any(run.active for run in runs):
        raise LabError("Your Python subscriber is already running: stop it first.")
    options = {"channels": list(subscription.channels), "patterns": list(subscription.patterns)}
    return lab_run_start(learner_id=learner_id, lab=LAB, task=task, options=options)


def subscriber_stop(*, learner_id: str, run_id: str) -> None:
    """Ask the learner's Python subscriber ``run_id`` to stop (it looks twice a second)."""
    try:
        if not any(run.id == run_id and run.active for run in _runs(learner_id)):
            raise LabError("That Python subscriber is not running.")
        redis_client().set(_stop_key(learner_id, run_id), 1, ex=SUBSCRIBER_SECONDS * 2)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error


def _confirmed(pubsub, expected: int) -> bool:
    """Reads the subscribe confirmations; True once all ``expected`` have come."""
    confirmed, deadline = 0, time.monotonic() + SUBSCRIBE_CONFIRM_SECONDS
    while confirmed < expected and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS)
        if message and message["type"] in {"subscribe", "psubscribe"}:
            confirmed += 1
    return confirmed == expected


def subscriber_execute(*, learner_id: str, run_id: str, channels: list[str],
                       patterns: list[str], worker: str) -> dict:  # fmt: skip
    """The worker's side: subscribe, read on a background thread with get_message(timeout=…),
    record each message as a printed line, until stopped or SUBSCRIBER_SECONDS have passed."""
    base = {"run": run_id, "lab": LAB}
    event_publish(
        learner_id=learner_id, lab=LAB, event={**base, "kind": "started", "worker": worker}
    )
    try:
        subscription = subscription_parse(" ".join(channels + patterns))
    except ChannelInvalid as error:
        event_publish(
            learner_id=learner_id, lab=LAB, event={**base, "kind": "failed", "error": str(error)}
        )
        return {"received": 0, "reason": "invalid"}
    # Its own connection: a subscribed connection can do nothing else.
    client = subscriber_client(read_timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS * 4)
    pubsub = client.pubsub()
    stop, counted, failure = threading.Event(), [0], []

    def read() -> None:
        # The background thread: get_message waits at most half a second, so it sees `stop`.
        try:
            while not stop.is_set():
                message = pubsub.get_message(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS)
                if not message or message["type"] not in {"message", "pmessage"}:
                    continue
                delivery = delivery_event(learner_id, message, subscriber="python", run=run_id)
                via = f" (pattern {delivery['pattern']})" if delivery["pattern"] else ""
                delivery["line"] = f"{delivery['channel']}{via}: {delivery['data']}"
                counted[0] += 1
                event_publish(learner_id=learner_id, lab=LAB, event=delivery)
        except (RedisError, OSError) as error:
            failure.append(f"lost Redis while reading: {error}")

    reason = "time limit"
    try:
        if subscription.channels:
            pubsub.subscribe(*(real_channel(learner_id, c) for c in subscription.channels))
        if subscription.patterns:
            pubsub.psubscribe(*(real_channel(learner_id, p) for p in subscription.patterns))
        if not _confirmed(pubsub, subscription.size):
            raise RedisError("Redis did not confirm the subscriptions in time")
        listening = {
            "channels": list(subscription.channels),
            "patterns": list(subscription.patterns),
        }
        event = {**base, "kind": "listening", **listening, "seconds": SUBSCRIBER_SECONDS}
        event_publish(learner_id=learner_id, lab=LAB, event=event)
        reader = threading.Thread(target=read, name=f"subscriber-{run_id}", daemon=True)
        reader.start()
        deadline = time.monotonic() + SUBSCRIBER_SECONDS
        while reader.is_alive() and time.monotonic() < deadline:
            if client.exists(_stop_key(learner_id, run_id)):
                reason = "stopped"
                break
            reader.join(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS)
        stop.set()
        reader.join(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS * 4)
    except (RedisError, OSError) as error:
        failure.append(str(error))
    finally:
        stop.set()
        with contextlib.suppress(RedisError, OSError):
            pubsub.close()
            client.close()
    result = {"received": counted[0], "reason": reason, "worker": worker}
    if failure:
        event_publish(
            learner_id=learner_id, lab=LAB, event={**base, "kind": "failed", "error": failure[0]}
        )
    else:
        event_publish(
            learner_id=learner_id, lab=LAB, event={**base, "kind": "succeeded", "result": result}
        )
    return result
