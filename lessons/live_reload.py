"""Telling open pages that the content changed, so an author sees an edit without reloading."""

import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from learnsite.hub import event_hub
from learnsite.redis import redis_client
from learnsite.streaming import HEARTBEAT_SECONDS, sse_event

log = logging.getLogger(__name__)
CONTENT_CHANNEL = "learnsite:content:changed"
RECONNECT_MS = 2000


def content_changed_announce() -> None:
    try:
        redis_client().publish(CONTENT_CHANNEL, "changed")
    except (RedisError, OSError) as error:  # pages then show the change on their next load
        log.warning("could not announce a content change: %s", error)


async def content_change_stream() -> AsyncIterator[str | None]:
    async with event_hub().listen(CONTENT_CHANNEL) as wakeup:
        while True:
            if not await wakeup.woken(HEARTBEAT_SECONDS):
                yield None
                continue
            wakeup.clear()
            if event_hub().connected.is_set():  # the hub also wakes us when it loses Redis
                yield sse_event("reload", "content changed")
