"""The event hub's pattern subscription (learnsite/subscription.py), on a real Redis of the
test's own: what it delivers, and each way it ends, so that the hub subscribes again."""

import asyncio

import pytest
import redis
from redis.exceptions import RedisError

from learnsite.subscription import patterns_subscribe
from tests.stack import redis_service, wait_until

PATTERNS = ["learner:*", "content:*"]


@pytest.fixture
def redis_url(start_services) -> str:
    service, url = redis_service()
    start_services(service)
    return url


def subscribe(url: str, deliver=lambda channel, data: None, *, health_check_seconds=30.0):
    return patterns_subscribe(
        url, PATTERNS, deliver=deliver, connect_seconds=5.0,
        health_check_seconds=health_check_seconds,
    )  # fmt: skip


def test_messages_on_its_patterns_arrive_in_order_and_others_do_not(redis_url):
    sent = [("learner:a", "ping 1-0 - {}"), ("other:x", "not for us"), ("content:v", "é 2"),
            ("learner:b", "x" * 100_000)]  # fmt: skip

    async def scenario() -> list:
        delivered, last = [], asyncio.Event()

        def deliver(channel: str, data: str) -> None:
            delivered.append((channel, data))
            if channel == sent[-1][0]:
                last.set()

        subscription = await subscribe(redis_url, deliver)
        client = redis.asyncio.Redis.from_url(redis_url)
        for channel, data in sent:
            await client.publish(channel, data)
        await client.aclose()
        await asyncio.wait_for(last.wait(), 10)
        subscription.close()
        return delivered

    assert asyncio.run(scenario()) == [sent[0], sent[2], sent[3]]


def test_a_refused_subscription_raises_and_keeps_no_connection(redis_url):
    client = redis.Redis.from_url(redis_url)
    before = client.client_list()

    async def scenario() -> None:
        # This Redis has no password: AUTH is refused, as a wrong one would be.
        await subscribe(f"{redis_url}?password=wrong")

    with pytest.raises(RedisError, match="AUTH"):
        asyncio.run(scenario())
    wait_until(lambda: len(client.client_list()) == len(before))


def test_a_connection_closed_by_redis_ends_it(redis_url):
    async def scenario() -> Exception:
        subscription = await subscribe(redis_url)
        redis.Redis.from_url(redis_url).client_kill_filter(_type="pubsub")
        return await asyncio.wait_for(subscription.closed, 10)

    assert "closed the subscription's connection" in str(asyncio.run(scenario()))


def test_an_unanswered_health_check_ends_it(redis_url):
    """A server that stops answering without closing: what a half-open connection looks like
    from here. CLIENT PAUSE holds every client's commands, the PING among them."""

    async def scenario() -> Exception:
        subscription = await subscribe(redis_url, health_check_seconds=0.2)
        redis.Redis.from_url(redis_url).client_pause(3000, all=True)
        return await asyncio.wait_for(subscription.closed, 10)

    assert "did not answer a PING in 0.2 s" in str(asyncio.run(scenario()))


def test_a_redis_with_a_password_is_opened_with_the_urls(redis_url):
    redis.Redis.from_url(redis_url).config_set("requirepass", "s3cret")
    url = f"{redis_url}?password=s3cret"

    async def scenario() -> list:
        delivered, arrived = [], asyncio.Event()

        def deliver(channel: str, data: str) -> None:
            delivered.append((channel, data))
            arrived.set()

        subscription = await subscribe(url, deliver)
        client = redis.asyncio.Redis.from_url(url)
        await client.publish("learner:a", "hello")
        await client.aclose()
        await asyncio.wait_for(arrived.wait(), 10)
        subscription.close()
        return delivered

    assert asyncio.run(scenario()) == [("learner:a", "hello")]
