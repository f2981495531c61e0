"""The console page's feed: a real Redis subscription, held while the page is open.

Each open console page has a feed (a server-sent event stream) holding one Redis PubSub of its
own, subscribed to what the learner's console subscription sets hold (SUBSCRIBE and
PSUBSCRIBE fill them, ``commands.py``), which it reads again whenever the learner's lab events
are announced (SUBSCRIBE records one) and at each heartbeat. Every message it gets, from any
publisher (the console's PUBLISH, the pubsub lab, redis-cli), goes into the page's transcript
as redis-cli prints it; so PUBLISH's reply, Redis's own count, includes each open console page
subscribed to the channel. Closing the page ends its subscription.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from django.template.loader import render_to_string
from redis.exceptions import RedisError

from labs.channels import FEED_SECONDS
from labs.events import learner_channel
from learnsite.redis import apubsub_client
from learnsite.streaming import HEARTBEAT_SECONDS, sse_event

from .commands import Space
from .replies import reply_format

TEMPLATE = "labs/console.html"


def _feed_html(part: str, **context) -> str:
    return render_to_string(f"{TEMPLATE}#{part}", context)


def console_feed_message(space: Space, message: dict) -> str:
    """A message the feed got, as redis-cli prints it, with the learner's short names."""
    channel = message["channel"].removeprefix(space.channel(""))
    if message["type"] == "pmessage":
        pattern = message["pattern"].removeprefix(space.pattern(""))
        return reply_format(["pmessage", pattern, channel, message["data"]])
    return reply_format(["message", channel, message["data"]])


async def _feed_follow(client, pubsub, space: Space, held: tuple[set, set]) -> bool:
    """Subscribe ``pubsub`` to what the learner's console subscription sets hold now, given
    ``held`` (updated in place); True when that changed anything. A PING follows the changes:
    its pong says Redis has made them."""
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("SMEMBERS", space.channels_key)
    pipe.execute_command("SMEMBERS", space.patterns_key)
    channels, patterns = (set(names) for names in await pipe.execute())
    held_channels, held_patterns = held
    if channels == held_channels and patterns == held_patterns:
        return False
    if gone := held_channels - channels:
        await pubsub.unsubscribe(*map(space.channel, gone))
    if gone := held_patterns - patterns:
        await pubsub.punsubscribe(*map(space.pattern, gone))
    if new := channels - held_channels:
        await pubsub.subscribe(*map(space.channel, new))
    if new := patterns - held_patterns:
        await pubsub.psubscribe(*map(space.pattern, new))
    held_channels.clear(), held_channels.update(channels)
    held_patterns.clear(), held_patterns.update(patterns)
    await pubsub.ping()
    return True


async def console_feed_frames(*, learner_id: str) -> AsyncIterator[str | None]:
    """The feed's frames for ``learner_id``'s page, or None after HEARTBEAT_SECONDS with
    nothing to send; it closes after FEED_SECONDS."""
    # Its own connections (no read timeout: the subscription waits for messages), with
    # messages as they are, like the console's replies.
    space, client = Space(learner_id), apubsub_client(raw=True)
    pubsub = client.pubsub()
    announce = learner_channel(learner_id)
    held: tuple[set, set] = (set(), set())
    loop = asyncio.get_running_loop()
    try:
        closes_at = loop.time() + FEED_SECONDS
        try:
            # The learner's event announcements wake the feed when a SUBSCRIBE changes the sets.
            await pubsub.subscribe(announce)
            if not await _feed_follow(client, pubsub, space, held):
                await pubsub.ping()  # its pong: the feed is ready, with nothing to follow yet
            while loop.time() < closes_at:
                message = await pubsub.get_message(timeout=HEARTBEAT_SECONDS)
                kind = message["type"] if message else ""
                if not message or (kind == "message" and message["channel"] == announce):
                    await _feed_follow(client, pubsub, space, held)
                    if not message:
                        yield None
                elif kind == "pong":
                    channels, patterns = (sorted(names) for names in held)
                    status = _feed_html(
                        "feed-status", state="subscribed", channels=channels, patterns=patterns
                    )
                    yield sse_event("subscribed", status)
                elif kind in ("message", "pmessage"):
                    text = console_feed_message(space, message)
                    yield sse_event("message", _feed_html("message", text=text))
        except (RedisError, OSError):
            yield sse_event("subscribed", _feed_html("feed-status", state="down"))
            return
        closed = _feed_html("feed-status", state="closed", feed_minutes=FEED_SECONDS // 60)
        yield sse_event("feed-closed", closed)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()
            await client.aclose()
