"""The blocking listen() trap, for real: three consumers of one Redis channel, side by side.

A standalone program (redis-py and the standard library only, no Django), started by the
"listen" lab's Celery task (``listen_trap_execute`` in labs/kinds/listen/services.py) as a
script, in a process group of its own:

    LISTEN_TRAP_REDIS_URL=unix:///path/to/redis.sock python -I sandbox.py --channel NAME

It lives beside the lab's code but is never imported by it: it runs in a process of its own,
with nothing of the site's environment.

Each mode is a thread standing in for a small server. Every ``--heartbeat-ms`` the main thread
sends each of them a heartbeat request over a socket of its own, which the mode must answer;
each mode also consumes the channel, in its own way:

- ``listen``: the trap. The thread that answers requests iterates ``pubsub.listen()`` and
  answers what has piled up after each message. ``listen()`` waits for the next message, for as
  long as it takes: between messages, nothing is answered.
- ``get_message``: the same thread calls ``pubsub.get_message(timeout=0.1)`` in a loop, which
  waits at most 0.1 s, then answers what has arrived.
- ``thread``: ``pubsub.run_in_thread()`` reads the channel on a background thread of its own;
  the mode's thread only answers requests.

Everything that happens is printed as one JSON object per line, with ``t``, the milliseconds
since the program started: ``start``, ``ready`` (all three subscribed), ``asked`` (a round of
heartbeat requests), ``answered`` (by a mode: which request, asked when), ``received`` (a
message, by a mode) and ``error``.

Like a server, it never ends by itself: the task kills its process group at the run's time
limit. ``--max-seconds`` (SIGALRM) is only the backstop, should the task die first.
"""

import argparse
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time

import redis

MODES = ("listen", "get_message", "thread")
# A heartbeat request: its number and when it was asked (ms since the start).
FRAME = struct.Struct("!II")
GET_MESSAGE_TIMEOUT_SECONDS = 0.1
THREAD_SLEEP_SECONDS = 0.1
READY_TIMEOUT_SECONDS = 5.0
DATA_MAX_CHARS = 100


class Timeline:
    """Prints what happens as JSON lines, from any thread, timed from the program's start."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def now_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)

    def emit(self, kind: str, **fields) -> None:
        line = json.dumps({"t": self.now_ms(), "kind": kind, **fields})
        with self.lock:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                os._exit(0)  # nobody reads the timeline any more: the task is gone


class Requests:
    """A mode's end of its request socket: heartbeat requests as (number, asked at)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def waiting(self) -> list[tuple[int, int]]:
        """The requests that have arrived, without waiting for more."""
        while select.select([self.sock], [], [], 0)[0]:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buffer += chunk
        size = len(self.buffer) - len(self.buffer) % FRAME.size
        frames, self.buffer = self.buffer[:size], self.buffer[size:]
        return [FRAME.unpack_from(frames, offset) for offset in range(0, size, FRAME.size)]

    def wait(self) -> list[tuple[int, int]]:
        """The next requests, waiting for as long as it takes."""
        select.select([self.sock], [], [])
        return self.waiting()


def answer(timeline: Timeline, mode: str, requests: list[tuple[int, int]]) -> None:
    for seq, asked in requests:
        timeline.emit("answered", mode=mode, seq=seq, asked=asked)


def received(timeline: Timeline, mode: str, message: dict) -> None:
    timeline.emit("received", mode=mode, data=str(message["data"])[:DATA_MAX_CHARS])


def mode_listen(pubsub, channel: str, requests: Requests, timeline: Timeline, ready) -> None:
    pubsub.subscribe(channel)
    for message in pubsub.listen():  # waits for the next message, without end
        if message["type"] == "message":
            received(timeline, "listen", message)
        # Only reached when a message arrives: until then, requests pile up unanswered.
        answer(timeline, "listen", requests.waiting())
        if message["type"] == "subscribe":
            ready.set()  # heartbeats begin once every mode is subscribed


def mode_get_message(pubsub, channel: str, requests: Requests, timeline: Timeline, ready) -> None:
    pubsub.subscribe(channel)
    while True:
        message = pubsub.get_message(timeout=GET_MESSAGE_TIMEOUT_SECONDS)  # waits 0.1 s at most
        if message and message["type"] == "subscribe":
            ready.set()
        elif message and message["type"] == "message":
            received(timeline, "get_message", message)
        answer(timeline, "get_message", requests.waiting())


def mode_thread(pubsub, channel: str, requests: Requests, timeline: Timeline, ready) -> None:
    pubsub.subscribe(**{channel: lambda message: received(timeline, "thread", message)})
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:  # the confirmation, before the thread takes over
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "subscribe":
            break
    pubsub.run_in_thread(sleep_time=THREAD_SLEEP_SECONDS, daemon=True)
    ready.set()
    while True:  # this thread only answers requests
        answer(timeline, "thread", requests.wait())


RUNNERS = {"listen": mode_listen, "get_message": mode_get_message, "thread": mode_thread}


def _run_mode(mode: str, url: str, channel: str, sock: socket.socket, timeline: Timeline,
              ready: threading.Event) -> None:  # fmt: skip
    try:
        # No read timeout: listen() must be free to wait as long as the channel is quiet.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, decode_responses=True)
        RUNNERS[mode](client.pubsub(), channel, Requests(sock), timeline, ready)
    except Exception as error:  # any failure is reported, and the mode is over
        timeline.emit("error", mode=mode, error=f"{type(error).__name__}: {error}"[:300])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", required=True)
    parser.add_argument("--heartbeat-ms", type=int, default=200)
    parser.add_argument("--max-seconds", type=int, default=30)
    args = parser.parse_args(argv)
    url = os.environ.get("LISTEN_TRAP_REDIS_URL", "")
    if not url:
        parser.error("set LISTEN_TRAP_REDIS_URL to the Redis to use")

    # The backstop: ended by the kernel even if whoever started it never kills it.
    signal.alarm(args.max_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (args.max_seconds, args.max_seconds))
    timeline = Timeline()
    timeline.emit("start", pid=os.getpid(), pgid=os.getpgrp(), modes=list(MODES),
                  heartbeat_ms=args.heartbeat_ms)  # fmt: skip

    senders, readies = {}, {}
    for mode in MODES:
        senders[mode], theirs = socket.socketpair()
        readies[mode] = threading.Event()
        thread = threading.Thread(
            target=_run_mode,
            args=(mode, url, args.channel, theirs, timeline, readies[mode]),
            name=f"mode-{mode}",
            daemon=True,
        )
        thread.start()
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for mode in MODES:
        if not readies[mode].wait(max(0.0, deadline - time.monotonic())):
            timeline.emit("error", mode=mode, error="not subscribed in time")
            return 1
    timeline.emit("ready")

    # The heartbeat: a round of requests every heartbeat, forever.
    seq, next_at = 0, time.monotonic()
    while True:
        seq += 1
        asked = timeline.now_ms()
        timeline.emit("asked", seq=seq)
        for sender in senders.values():
            sender.sendall(FRAME.pack(seq, asked))
        next_at += args.heartbeat_ms / 1000
        time.sleep(max(0.0, next_at - time.monotonic()))


if __name__ == "__main__":
    sys.exit(main())
