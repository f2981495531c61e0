import os
import subprocess
import sys
import time

import redis

from learnsite.embedded_redis import socket_answers
from tests.stack import ROOT, die_with_parent


def start(var_dir, *options: str, **env: str) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.Popen(
        [sys.executable, "-m", "learnsite.embedded_redis", *options],
        cwd=ROOT, env={**base, "LEARNSITE_VAR_DIR": str(var_dir), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent(),
    )  # fmt: skip


def wait_for(predicate, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_it_serves_the_default_socket_and_stops_cleanly(tmp_path):
    sock = tmp_path / "redis.sock"
    server = start(tmp_path)
    try:
        assert wait_for(lambda: socket_answers(sock))
        second = start(tmp_path)
        output, _ = second.communicate(timeout=30)
        assert second.returncode != 0
        assert "already serving" in output
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert not socket_answers(sock)


def test_a_stale_socket_file_is_replaced(tmp_path):
    (tmp_path / "redis.sock").write_text("left by a killed server")
    server = start(tmp_path)
    try:
        assert wait_for(lambda: socket_answers(tmp_path / "redis.sock"))
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_it_refuses_to_start_for_an_external_redis(tmp_path):
    server = start(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    output, _ = server.communicate(timeout=30)
    assert server.returncode != 0
    assert "is not started here" in output


def test_durable_redis_keeps_the_broker_on_disk_and_refuses_eviction(tmp_path):
    sock = tmp_path / "redis.sock"
    server = start(tmp_path, "--durable")
    try:
        assert wait_for(lambda: socket_answers(sock))
        client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.lpush("celery", "a task message")
    finally:
        server.terminate()  # redis-server flushes the append-only file as it stops
        server.wait(timeout=10)
    assert (tmp_path / "redis" / "appendonly.aof").exists()

    server = start(tmp_path, "--durable")
    try:
        assert wait_for(lambda: socket_answers(sock))
        client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
        assert client.lrange("celery", 0, -1) == ["a task message"]
    finally:
        server.terminate()
        server.wait(timeout=10)
