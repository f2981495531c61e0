"""The "Publish and subscribe" lab: PUBLISH to real subscribers, and what happens with none.

The learner names short channels (``updates``, ``updates.sports``); the real channel is always
``learnsite-labs:learner:<their key>:pubsub:<name>``, built from the session, so that nobody
reaches another learner's channels. (Kept apart from the site's own ``learnsite:`` channels,
which each web process's event hub pattern-subscribes to: a pattern subscriber that matched
would count in PUBLISH's reply as one more "subscriber" per web process.)

The subscribers, all real Redis subscriptions:

- each open tab of the lab page: its live feed (``pubsub_feed``, a server-sent event stream)
  holds a subscription of its own while the tab is open, and records every message it gets;
- the Python subscriber: a Celery task whose background thread reads with
  ``pubsub.get_message(timeout=…)`` for at most ``SUBSCRIBER_SECONDS``, until the learner stops it.

PUBLISH answers with the number of deliveries: one per subscribed connection whose channels
match, plus one per matching pattern subscription (a connection with both counts twice). The
same message sent to a Redis list (LPUSH, read with BRPOP) or a stream (XADD, read with XREAD)
waits for a reader; sent on a channel nobody listens to, it is gone.

Events (all with ``lab: "pubsub"``): ``published`` (with ``receivers``, PUBLISH's reply),
``received`` (by a subscriber), ``pushed``/``popped`` (the list), ``added``/``read`` (the stream),
``predicted``, and the Python subscriber's runs: ``queued``, ``started``, ``listening``,
``received``, then ``succeeded`` or ``failed``.
"""

import asyncio
import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from learners.identity import alearner_id, learner_id_for
from learnsite.htmx import HtmxHttpRequest
from learnsite.redis import apubsub_client, redis_client

from .events import (
    KEY_PREFIX,
    LEARNER_TTL_SECONDS,
    STREAM_MAX_EVENTS,
    event_publish,
    events_read,
    learner_channel,
    learner_stream_key,
)
from .limits import learner_allows
from .predictions import PredictionPairing, Runs
from .runs import WAITING_HINT_AFTER_SECONDS
from .services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited, lab_run_start
from .streaming import HEARTBEAT_SECONDS, KEEP_ALIVE, counted_sse_response, sse_event

LAB = "pubsub"
TEMPLATE = "labs/pubsub.html"
CHANNEL_PREFIX = "learnsite-labs:learner:"

NAME_MAX_CHARS = 40
NAME = re.compile(rf"^[A-Za-z0-9.-]{{1,{NAME_MAX_CHARS}}}$")
PATTERN = re.compile(rf"^[A-Za-z0-9.*?-]{{1,{NAME_MAX_CHARS}}}$")
NAME_RULES = (
    f"a channel name is 1 to {NAME_MAX_CHARS} letters, digits, dots and dashes, like "
    "updates or updates.sports (a pattern may also use * and ?, like updates.*)"
)
SUBSCRIPTION_MAX_NAMES = 5
DEFAULT_SUBSCRIPTION = "updates"
MESSAGE_MAX_CHARS = 200

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
# A tab's live feed closes after this long (the page says to reload it).
FEED_SECONDS = 600
FEED_RECONNECT_MS = 2000
TAB = re.compile(r"^[0-9a-f]{4}$")
RUN_ID = re.compile(r"^[0-9a-f]{8}$")

VIAS = {"pubsub": "PUBLISH", "list": "LPUSH", "stream": "XADD", "all": "all three"}
READ_VIAS = {"list": "BRPOP", "stream": "XREAD"}
PANEL_ACTIONS_SHOWN = 6
PUBLISHES_SHOWN = 8
SUBSCRIBER_RUNS_SHOWN = 3
SUBSCRIBER_LINES_SHOWN = 30

# Predict, then observe: what the next PUBLISH's reply can show. A lesson's 'predict' question
# maps each of its options to one of these codes ('observes:').
OUTCOMES = {"0": "None", "1": "One", "2": "Two", "3+": "Three or more"}


class ChannelInvalid(LabError):
    pass


@dataclass(frozen=True)
class Subscription:
    channels: tuple[str, ...]
    patterns: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.channels + self.patterns)

    @property
    def size(self) -> int:
        return len(self.channels) + len(self.patterns)


def _shown(name: str) -> str:
    return name if len(name) <= NAME_MAX_CHARS else name[:NAME_MAX_CHARS] + "…"


def channel_parse(name: str) -> str:
    """A learner's short channel name, checked; raises ChannelInvalid."""
    name = name.strip()
    if not NAME.match(name):
        if not name:
            raise ChannelInvalid(f"Name a channel: {NAME_RULES}. Nothing was sent.")
        raise ChannelInvalid(f"“{_shown(name)}” is not a channel name here: {NAME_RULES}.")
    return name


def subscription_parse(text: str) -> Subscription:
    """Channels and patterns (with * or ?) separated by spaces or commas; raises ChannelInvalid."""
    names = list(dict.fromkeys(part for part in re.split(r"[\s,]+", text.strip()) if part))
    if not names:
        raise ChannelInvalid(f"Name at least one channel to subscribe to: {NAME_RULES}.")
    if len(names) > SUBSCRIPTION_MAX_NAMES:
        raise ChannelInvalid(f"Subscribe to {SUBSCRIPTION_MAX_NAMES} channels or patterns at most.")
    channels, patterns = [], []
    for name in names:
        if "*" in name or "?" in name:
            if not PATTERN.match(name):
                raise ChannelInvalid(f"“{_shown(name)}” is not a pattern here: {NAME_RULES}.")
            patterns.append(name)
        else:
            channels.append(channel_parse(name))
    return Subscription(channels=tuple(channels), patterns=tuple(patterns))


def message_parse(text: str) -> str:
    text = text.strip()
    if not text:
        raise LabError("Write a message to send.")
    if len(text) > MESSAGE_MAX_CHARS:
        raise LabError(f"Keep the message to {MESSAGE_MAX_CHARS} characters.")
    return text


# Names in Redis. The learner's key comes from the session; the short name is checked, and
# neither can hold a glob character, so a pattern never reaches past the learner's channels.


def _channel_base(learner_id: str) -> str:
    return f"{CHANNEL_PREFIX}{learner_id}:pubsub:"


def real_channel(learner_id: str, name: str) -> str:
    return _channel_base(learner_id) + name


def _short(learner_id: str, channel: str | None) -> str:
    return (channel or "").removeprefix(_channel_base(learner_id))


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


# The Python subscriber.


def subscriber_run_start(*, learner_id: str, subscription: Subscription) -> str:
    """Queue the learner's Python subscriber (one at a time); returns the run id."""
    try:
        runs = pubsub_runs_fold(events_read(learner_id=learner_id, lab=LAB), now=time.time())
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    if any(run.active for run in runs):
        raise LabError("Your Python subscriber is already running: stop it first.")
    # Imported here: labs.tasks imports this module.
    from .tasks import pubsub_subscriber

    options = {"channels": list(subscription.channels), "patterns": list(subscription.patterns)}
    return lab_run_start(learner_id=learner_id, lab=LAB, task=pubsub_subscriber, options=options)


def subscriber_stop(*, learner_id: str, run_id: str) -> None:
    """Ask the learner's Python subscriber ``run_id`` to stop (it looks twice a second)."""
    try:
        runs = pubsub_runs_fold(events_read(learner_id=learner_id, lab=LAB), now=time.time())
        if not any(run.id == run_id and run.active for run in runs):
            raise LabError("That Python subscriber is not running.")
        redis_client().set(_stop_key(learner_id, run_id), 1, ex=SUBSCRIBER_SECONDS * 2)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error


def _delivery(learner_id: str, message: dict, *, subscriber: str, **fields) -> dict:
    """The "received" event of one message a subscriber got."""
    return _event(
        "received",
        subscriber=subscriber,
        channel=_short(learner_id, message["channel"]),
        pattern=_short(learner_id, message.get("pattern")),
        data=str(message["data"])[:MESSAGE_MAX_CHARS],
        **fields,
    )


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
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
        socket_timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS * 4, decode_responses=True,
    )  # fmt: skip
    pubsub = client.pubsub()
    stop, counted, failure = threading.Event(), [0], []

    def read() -> None:
        # The background thread: get_message waits at most half a second, so it sees `stop`.
        try:
            while not stop.is_set():
                message = pubsub.get_message(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS)
                if not message or message["type"] not in {"message", "pmessage"}:
                    continue
                delivery = _delivery(learner_id, message, subscriber="python", run=run_id)
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


# Runs, as the page shows them.


@dataclass
class Publish:
    id: str  # its event's id
    channel: str
    data: str
    receivers: int
    at: float
    received_by: list[str] = field(default_factory=list)


def pubsub_observed(publish: Publish) -> str:
    """How many subscribers the PUBLISH reached, as an outcome code."""
    return "3+" if publish.receivers >= 3 else str(publish.receivers)


@dataclass
class PanelAction:
    command: str  # LPUSH, BRPOP, XADD, XREAD
    channel: str
    at: float
    items: list[tuple[str, str]] = field(default_factory=list)  # (entry id or "", message)
    length: int = 0


SUBSCRIBER_STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Subscribing"),
    "listening": (2, "Listening"),
    "succeeded": (3, "Stopped"),
    "failed": (3, "Failed"),
}


@dataclass
class SubscriberRun:
    id: str
    queued_at: float
    channels: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    status: str = "queued"
    lines: list[str] = field(default_factory=list)
    received: int = 0
    reason: str = ""
    error: str = ""
    worker: str = ""
    waiting: bool = False

    @property
    def status_label(self) -> str:
        return SUBSCRIBER_STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "listening"}

    @property
    def subscription_text(self) -> str:
        return " ".join(self.channels + self.patterns)


class PubsubRuns(Runs):
    """The Python subscriber's runs, newest first (what the lab stream watches), and the rest of
    the page: the three panels, the prediction (answered by the next PUBLISH), and whether the
    lesson's point was seen."""

    publishes: list[Publish]
    list_actions: list[PanelAction]
    stream_actions: list[PanelAction]
    lost_and_kept: bool


def pubsub_runs_fold(events: list[tuple[str, dict]], *, now: float) -> PubsubRuns:
    runs: dict[str, SubscriberRun] = {}
    publishes: list[Publish] = []
    list_actions: list[PanelAction] = []
    stream_actions: list[PanelAction] = []
    pairing = PredictionPairing()
    lost: set[tuple[str, str]] = set()  # (channel, message) published with nobody listening
    lost_and_kept = False
    for event_id, event in events:
        kind, at = event.get("kind"), event.get("at", 0.0)
        if pairing.take(event):
            continue
        if kind == "published":
            publish = Publish(
                id=event_id,
                channel=event.get("channel", ""),
                data=event.get("data", ""),
                receivers=int(event.get("receivers", 0)),
                at=at,
            )
            pairing.seen(publish)
            if publish.receivers == 0:
                lost.add((publish.channel, publish.data))
            publishes.append(publish)
        elif kind == "received" and not event.get("run"):
            _deliver(publishes, event, event.get("subscriber", "a subscriber"))
        elif kind in {"pushed", "popped", "added", "read"}:
            action = _panel_action(event)
            (list_actions if kind in {"pushed", "popped"} else stream_actions).append(action)
            if kind in {"popped", "read"} and any(
                (action.channel, m) in lost for _, m in action.items
            ):
                lost_and_kept = True
        elif event.get("run"):
            _subscriber_event(runs, publishes, event)
    for run in runs.values():
        run.waiting = run.status == "queued" and now - run.queued_at >= WAITING_HINT_AFTER_SECONDS
    newest = sorted(runs.values(), key=lambda run: run.queued_at, reverse=True)
    shown = PubsubRuns(newest[:SUBSCRIBER_RUNS_SHOWN])
    shown.publishes = publishes[::-1][:PUBLISHES_SHOWN]
    shown.list_actions = list_actions[::-1][:PANEL_ACTIONS_SHOWN]
    shown.stream_actions = stream_actions[::-1][:PANEL_ACTIONS_SHOWN]
    shown.prediction = pairing.latest
    shown.lost_and_kept = lost_and_kept
    return shown


def _deliver(publishes: list[Publish], event: dict, subscriber: str) -> None:
    """Count a delivery with the latest publish of that message on that channel."""
    channel, data = event.get("channel", ""), event.get("data", "")
    for publish in reversed(publishes):
        if publish.channel == channel and publish.data == data:
            publish.received_by.append(subscriber)
            return


def _panel_action(event: dict) -> PanelAction:
    kind = event["kind"]
    command = {"pushed": "LPUSH", "popped": "BRPOP", "added": "XADD", "read": "XREAD"}[kind]
    if kind in {"pushed", "added"}:
        items = [(event.get("entry", ""), event.get("data", ""))]
    else:
        items = [(str(entry), str(message)) for entry, message in event.get("items", [])]
    return PanelAction(
        command=command,
        channel=event.get("channel", ""),
        at=event.get("at", 0.0),
        items=items,
        length=int(event.get("length", 0)),
    )


def _subscriber_event(runs: dict[str, SubscriberRun], publishes: list[Publish], event: dict
                      ) -> None:  # fmt: skip
    kind, run_id = event.get("kind"), event["run"]
    run = runs.get(run_id)
    if run is None:
        if kind != "queued":
            return  # its start fell out of the capped event stream
        run = runs[run_id] = SubscriberRun(id=run_id, queued_at=event.get("at", 0.0))
    if kind == "queued":
        options = event.get("options", {})
        run.channels, run.patterns = options.get("channels", []), options.get("patterns", [])
    elif kind == "started":
        run.worker = event.get("worker", "")
    elif kind == "received":
        run.received += 1
        run.lines.append(event.get("line", ""))
        _deliver(publishes, event, f"Python subscriber {run_id}")
    elif kind == "succeeded":
        run.reason = event.get("result", {}).get("reason", "")
    elif kind == "failed":
        run.error = event.get("error", "")
    if kind in SUBSCRIBER_STATUS and SUBSCRIBER_STATUS[kind][0] >= SUBSCRIBER_STATUS[run.status][0]:
        run.status = kind


# Views. labs.views imports the registry, and the registry imports this module's fold, so the
# view helpers are looked up when a view runs (workers import this module, never views).


def _lab_views():
    from . import views

    return views


def _feed_url(subscription: Subscription, tab: str) -> str:
    return (
        f"{reverse('labs:pubsub-feed')}?{urlencode({'subscribe': subscription.text, 'tab': tab})}"
    )


def _page(request: HtmxHttpRequest, *, subscribe: str, error: LabError | None = None
          ) -> HttpResponse:  # fmt: skip
    try:
        subscription = subscription_parse(subscribe)
    except ChannelInvalid as invalid:
        subscription, error = subscription_parse(DEFAULT_SUBSCRIPTION), error or invalid
    tab = secrets.token_hex(2)
    context = {
        "subscription": subscription,
        "tab": tab,
        "feed_url": _feed_url(subscription, tab),
        "vias": VIAS,
        "name_max": NAME_MAX_CHARS,
        "message_max": MESSAGE_MAX_CHARS,
        "subscriber_seconds": SUBSCRIBER_SECONDS,
        "feed_minutes": FEED_SECONDS // 60,
    }
    return _lab_views().lab_page(request, LAB, context=context, error=error)


def _answer(request: HtmxHttpRequest, context: dict | None = None, *,
            error: LabError | None = None) -> HttpResponse:  # fmt: skip
    """The answer to a POST: the result alone for htmx, else the page (or back to it)."""
    subscribe = request.POST.get("subscribe", DEFAULT_SUBSCRIPTION)
    if not request.htmx:
        if error is not None:
            return _page(request, subscribe=subscribe, error=error)
        return redirect(f"{reverse('labs:pubsub')}?{urlencode({'subscribe': subscribe})}")
    context = (context or {}) | {"error": error}
    return render(request, f"{TEMPLATE}#result", context, status=error.status if error else 200)


@require_GET
def pubsub_lab(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request, subscribe=request.GET.get("subscribe", DEFAULT_SUBSCRIPTION))


@require_POST
def pubsub_send(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    via = request.POST.get("via", "pubsub")
    try:
        sent = message_send(
            learner_id=learner_id,
            channel=request.POST.get("channel", ""),
            data=request.POST.get("message", ""),
            via=via,
        )
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"sent": sent, "via": via})


@require_POST
def pubsub_read(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    try:
        read = message_read(
            learner_id=learner_id,
            channel=request.POST.get("channel", ""),
            via=request.POST.get("via", ""),
        )
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"read": read})


@require_POST
def pubsub_subscriber_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    try:
        subscription = subscription_parse(request.POST.get("subscribe", ""))
        run_id = subscriber_run_start(learner_id=learner_id, subscription=subscription)
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"subscriber_run": run_id})


@require_POST
def pubsub_subscriber_stop(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    run_id = request.POST.get("run", "")
    try:
        if not RUN_ID.match(run_id):
            raise LabError("A run id is 8 characters from 0-9 and a-f.")
        subscriber_stop(learner_id=learner_id, run_id=run_id)
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"stopping": run_id})


@require_GET
async def pubsub_feed(request: HtmxHttpRequest) -> HttpResponse:
    """This tab's live feed: a Redis subscription of its own, held while the tab is open, whose
    messages come to the tab as server-sent events and are recorded for the lab's page."""
    learner_id = await alearner_id(request)
    if learner_id is None:
        return HttpResponseBadRequest("Open the lab page first: it starts your lab session.")
    tab = request.GET.get("tab", "")
    if not TAB.match(tab):
        return HttpResponseBadRequest("A tab is 4 characters from 0-9 and a-f.")
    try:
        subscription = subscription_parse(request.GET.get("subscribe", ""))
    except ChannelInvalid as error:
        return HttpResponseBadRequest(error.message)
    feed = _feed(learner_id=learner_id, subscription=subscription, tab=tab)
    return await counted_sse_response(learner_id=learner_id, stream=feed)


def _feed_html(part: str, **context) -> str:
    return render_to_string(f"{TEMPLATE}#{part}", context)


async def _feed(*, learner_id: str, subscription: Subscription, tab: str
                ) -> AsyncIterator[str]:  # fmt: skip
    client = apubsub_client()
    pubsub = client.pubsub()
    record = sync_to_async(event_publish, thread_sensitive=False)
    loop = asyncio.get_running_loop()
    try:
        yield f"retry: {FEED_RECONNECT_MS}\n\n"
        try:
            if subscription.channels:
                await pubsub.subscribe(
                    *(real_channel(learner_id, c) for c in subscription.channels)
                )
            if subscription.patterns:
                await pubsub.psubscribe(
                    *(real_channel(learner_id, p) for p in subscription.patterns)
                )
            confirmed, deadline = 0, loop.time() + SUBSCRIBE_CONFIRM_SECONDS
            while confirmed < subscription.size and loop.time() < deadline:
                message = await pubsub.get_message(timeout=SUBSCRIBER_READ_TIMEOUT_SECONDS)
                if message and message["type"] in {"subscribe", "psubscribe"}:
                    confirmed += 1
            if confirmed < subscription.size:
                raise RedisError("no confirmation")
        except (RedisError, OSError):
            status = _feed_html("feed-status", state="down", subscription=subscription, tab=tab)
            yield sse_event("subscribed", status)
            return
        status = _feed_html("feed-status", state="subscribed", subscription=subscription, tab=tab)
        yield sse_event("subscribed", status)
        closes_at = loop.time() + FEED_SECONDS
        while loop.time() < closes_at:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS
            )
            if not message or message["type"] not in {"message", "pmessage"}:
                yield KEEP_ALIVE
                continue
            delivery = _delivery(learner_id, message, subscriber=f"tab {tab}")
            with contextlib.suppress(RedisError, OSError):
                await record(learner_id=learner_id, lab=LAB, event=delivery)
            yield sse_event("received", _feed_html("feed-item", item=delivery))
        closed = _feed_html("feed-status", state="closed", subscription=subscription, tab=tab)
        yield sse_event("feed-closed", closed)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()
            await client.aclose()
