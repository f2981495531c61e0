"""Telling open pages that the content changed, so an author sees an edit without reloading."""

import asyncio
import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from labs.streaming import HEARTBEAT_SECONDS, KEEP_ALIVE, sse_event
from learnsite.hub import event_hub
from learnsite.redis import redis_client

log = logging.getLogger(__name__)
CONTENT_CHANNEL = "learnsite:content:changed"


def content_changed_announce() -> None:
    try:
        redis_client().publish(CONTENT_CHANNEL, "changed")
    except (RedisError, OSError) as error:  # pages then show the change on their next load
        log.warning("could not announce a content change: %s", error)


async def content_change_stream() -> AsyncIterator[str]:
    async with event_hub().listen(CONTENT_CHANNEL) as wakeup:
        yield "retry: 2000\n\n"
        while True:
            try:
                await asyncio.wait_for(wakeup.wait(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield KEEP_ALIVE
                continue
            wakeup.clear()
            if event_hub().connected.is_set():  # the hub also wakes us when it loses Redis
                yield sse_event("reload", "content changed")
