"""A learner's own pub/sub channels: the pubsub lab, the listen sandbox and the Redis console
publish and subscribe on them, so a message sent in one lab reaches a subscriber in another.

They sit under a prefix of their own, outside the site's announcement channels
(``learnsite:*``), so the event hub's pattern subscription never counts among their receivers.
"""

CHANNEL_PREFIX = "learnsite-labs:learner:"
# How long a page's own subscription (the pubsub lab's tab feed, the console's feed) is held,
# and how soon its browser reconnects when it drops.
FEED_SECONDS = 600
FEED_RECONNECT_MS = 2000


def channel_base(learner_id: str) -> str:
    return f"{CHANNEL_PREFIX}{learner_id}:pubsub:"


def real_channel(learner_id: str, name: str) -> str:
    """The Redis channel behind the learner's channel ``name``."""
    return channel_base(learner_id) + name
