"""A busy connection pool is not a broker outage: with a real Redis, the lab stream's own pool is
held by a blocking command while an event comes in that the stream must read from its record
(the one before it was never announced); the stream says nothing about the broker and shows
both events once the connection frees."""

import asyncio
import json
import time

import pytest
import redis
import redis.asyncio

import learnsite.redis
from labs.events import event_publish, learner_stream_key
from labs.pages import BROKER_PAUSED, _event_stream
from labs.registry import LAB_KINDS
from learnsite.hub import event_hub
from learnsite.redis import PoolBusy, aredis_client
from tests.labs.stream_support import Frames

# Longer than the pool's old wait (the 1 s command timeout), which ended in "broker paused".
HOLD_SECONDS = 2.5


async def hold_the_pool(key: str) -> tuple[redis.asyncio.Connection, asyncio.Task]:
    """Take the pool's only connection and block it in BLPOP on the empty list ``key``."""
    pool = aredis_client().connection_pool
    connection = await pool.get_connection()
    await connection.send_command("BLPOP", key, 30)
    return connection, asyncio.create_task(connection.read_response(timeout=35))


async def stream_through_a_busy_pool(*, learner_id: str, redis_url: str) -> tuple[list[str], str]:
    stream = _event_stream(learner_id=learner_id, kind="ping", lab=LAB_KINDS["ping"],
                           after="0-0", resumed=False, csrf_token="token")  # fmt: skip
    frames = Frames(stream)
    try:
        await frames.until(lambda frame: "Live updates: connected." in frame)
        await asyncio.wait_for(event_hub().connected.wait(), 5)
        key = f"test:pool-hold:{learner_id}"
        connection, blpop = await hold_the_pool(key)
        pool = aredis_client().connection_pool
        wait, pool.timeout = pool.timeout, 0.3
        with pytest.raises(PoolBusy):  # a wait for the connection runs out, Redis answering
            await aredis_client().ping()
        pool.timeout = wait
        # An event recorded with no announcement (one the hub missed), then one announced: the
        # stream sees the gap before it and must read its record, through the held pool.
        missed = {"kind": "queued", "run": "run-0", "lab": "ping", "at": time.time()}
        record = redis.Redis.from_url(redis_url)
        record.xadd(learner_stream_key(learner_id, "ping"), {"event": json.dumps(missed)})
        event = {"kind": "queued", "run": "run-1", "lab": "ping", "task_id": "task-1"}
        event_id = await asyncio.to_thread(
            event_publish, learner_id=learner_id, lab="ping", event=event
        )
        await asyncio.sleep(HOLD_SECONDS)  # the stream was woken and waits for the connection
        assert not [frame for frame in frames.seen if "event: runs" in frame]
        assert not [frame for frame in frames.seen if BROKER_PAUSED in frame]
        await asyncio.to_thread(redis.Redis.from_url(redis_url).lpush, key, "free")
        assert await blpop == [key, "free"]
        await aredis_client().connection_pool.release(connection)
        await frames.until(lambda frame: f"id: {event_id}\nevent: runs" in frame)
        return frames.seen, event_id
    finally:
        await frames.close()


@pytest.mark.parametrize(
    "pool_wait_seconds",
    [
        pytest.param(10.0, id="the read waits for the connection"),
        pytest.param(0.3, id="the read gives up with PoolBusy and reads again"),
    ],
)
def test_a_busy_pool_is_not_a_broker_outage_and_loses_nothing(redis_url, db, monkeypatch,
                                                              pool_wait_seconds):  # fmt: skip
    # (db: the stream's first read also looks for the runs Redis lost, in the database.)
    monkeypatch.setattr(learnsite.redis, "_async_clients", {})
    monkeypatch.setattr(learnsite.redis, "ASYNC_POOL_CONNECTIONS", 1)
    monkeypatch.setattr(learnsite.redis, "ASYNC_POOL_WAIT_SECONDS", pool_wait_seconds)

    learner_id = f"pool-{time.time_ns()}"
    stream = stream_through_a_busy_pool(learner_id=learner_id, redis_url=redis_url)
    seen, event_id = asyncio.run(stream)

    assert not [frame for frame in seen if BROKER_PAUSED in frame]
    runs = [frame for frame in seen if "event: runs" in frame]
    assert len(runs) == 1 and runs[0].startswith(f"id: {event_id}\n")
    assert "run-0" in runs[0] and "run-1" in runs[0]


def test_redis_not_answering_is_no_busy_pool(settings, monkeypatch):
    monkeypatch.setattr(learnsite.redis, "_async_clients", {})
    settings.REDIS_URL = f"unix:///tmp/learnsite-no-redis-{time.time_ns()}.sock"

    async def ping() -> None:
        await aredis_client().ping()

    with pytest.raises(redis.ConnectionError) as raised:
        asyncio.run(ping())
    assert not isinstance(raised.value, PoolBusy)
