"""Helpers for the console's tests: a Redis of the test's own, neighbours to leave alone, and
snapshots of everything outside one learner's space."""

import secrets

import redis

from labs.events import KEY_PREFIX, learner_channel, learner_stream_key
from labs.kinds.console.commands import Space, console_channel, console_key
from labs.kinds.console.services import LAB
from labs.limits import learner_rate_key
from learnsite.redis import redis_client
from tests.stack import redis_service


def make_learner_id() -> str:
    """A learner key shaped like the site's (URL-safe base64)."""
    return secrets.token_urlsafe(16)


def redis_of_its_own(start_services, settings) -> redis.Redis:
    """A fresh redis-server for one test, which this process's code then uses (settings and
    the cached clients follow it). Nothing else writes to it, so any change is the test's."""
    service, url = redis_service()
    start_services(service)
    settings.REDIS_URL = url
    redis_client.cache_clear()
    return redis.Redis.from_url(url)


def neighbours_plant(client: redis.Redis, learner_id: str) -> None:
    """Keys a console must never touch: another learner's (one whose key starts like this
    learner's too), the learner's events of another lab, and keys with the short names a
    learner types. Their ``orders`` streams have a ``mailers`` group with an entry pending (a
    snapshot's DUMP holds the groups, their consumers and pending entries)."""
    for other in ("someone-else", learner_id[:-1], learner_id + "x"):
        client.rpush(console_key(other, "jobs"), "their job")
        client.set(console_key(other, "greeting"), "their greeting")
        client.xadd(learner_stream_key(other, LAB), {"event": "{}"})
        group_plant(client, console_key(other, "orders"))
    client.xadd(learner_stream_key(learner_id, "ping"), {"event": "{}"})
    for name in ("jobs", "greeting", "updates", "*", "celery", "learnsite:learner:x"):
        client.set(name, "not yours")
    group_plant(client, "orders")
    client.set(f"{KEY_PREFIX}{learner_id}:events-not-the-console", "the site's")


def group_plant(client: redis.Redis, key: str) -> None:
    """A stream ``key`` with entries 1-1 and 2-1, a group ``mailers`` and 1-1 pending at ``a``."""
    client.xadd(key, {"order": "1"}, id="1-1")
    client.xadd(key, {"order": "2"}, id="2-1")
    client.xgroup_create(key, "mailers", id="0")
    client.xreadgroup("mailers", "a", {key: ">"}, count=1)


def console_owns(learner_id: str, key: str) -> bool:
    """The learner's console keys, and what the console keeps about them: their events of the
    console lab, rate counter, key index and subscriptions."""
    space = Space(learner_id)
    own = {
        space.keys_index,
        space.channels_key,
        space.patterns_key,
        learner_rate_key(learner_id, LAB),
    }
    return key.startswith(console_key(learner_id, "")) or key in own | {
        learner_stream_key(learner_id, LAB)
    }


def outside_snapshot(client: redis.Redis, learner_id: str) -> dict[bytes, tuple]:
    """Every other key, even the learner's own that are not the console's: value, has a TTL."""
    return {
        key: (client.dump(key), client.ttl(key) > 0)
        for key in client.keys("*")
        if not console_owns(learner_id, key.decode())
    }


class ChannelWatcher:
    """A real pattern subscriber to every channel: the channels anything was published on."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.pubsub = self.client.pubsub()
        self.pubsub.psubscribe("*")
        assert self.pubsub.get_message(timeout=2)["type"] == "psubscribe"
        self.channels: list[str] = []

    def drain(self) -> list[str]:
        """Every channel published on so far. Redis delivers a subscriber's messages in the order
        it ran the PUBLISH commands, so once a marker published now arrives, all earlier
        messages have (no quiet spell to wait out, and none that a slow moment could miss)."""
        marker = f"channel-watcher-marker:{secrets.token_hex(8)}"
        self.client.publish(marker, "")
        while (message := self.pubsub.get_message(timeout=10)) is not None:
            if message["channel"] == marker:
                return self.channels
            self.channels.append(message["channel"])
        raise AssertionError("the watcher's marker never arrived")

    def outside(self, learner_id: str) -> list[str]:
        """Channels published on that are neither the learner's console channels nor their
        lab events' announcements."""
        allowed = (console_channel(learner_id, ""), learner_channel(learner_id))
        return [channel for channel in self.drain() if not channel.startswith(allowed)]

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()
