"""A run's own Redis: what a restart keeps depends on the append-only file, as lesson 12 says."""

import pytest
import redis

from learnsite.sandbox import private_redis


@pytest.mark.parametrize(("durable", "kept"), [(True, [b"job"]), (False, [])])
def test_a_restart_keeps_the_list_only_with_the_append_only_file(tmp_path, durable, kept):
    # "always": the write is on disk before LPUSH answers, so the test need not wait for it.
    with private_redis(workdir=tmp_path, durable=durable, appendfsync="always") as server:
        client = redis.Redis.from_url(server.url)
        client.lpush("queue", "job")
        client.close()
        server.restart()
        client = redis.Redis.from_url(server.url)
        assert client.lrange("queue", 0, -1) == kept
        client.close()
    assert server.process is None
