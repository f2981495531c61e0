"""The event hub's pattern subscription: one connection per web process, read with hiredis's
reply parser in an asyncio protocol.

Not redis-py's PubSub, for its cost on the hot path: every event a web process streams is one
message here, and a message that arrives alone (as they do, a few hundred microseconds apart,
with a class streaming) costs redis-py's asyncio PubSub 36-46 µs of CPU, against 8-10 µs read
this way (bench figures in the README: "Why a stream's CPU per event..."). redis-py still reads
the URL (``parse_url``: the same schemes, options and TLS settings as every other client of the
site), and builds the TLS context for ``rediss://``.

After each read it leaves the socket alone for ``READ_GAP_SECONDS``: with a class streaming,
announcements come a quarter of a millisecond apart, and read as each arrived, every one cost a
system call and a turn of the event loop; read after the gap, several come at once. A lone
announcement waits for nothing: the gap follows a read, it never comes before one.

A subscription ends (``closed``) when its connection is lost, on an error reply, or when a
health check goes unanswered: a PING every ``health_check_seconds``, whose reply must come
before the next one. That is how a half-open connection (the server gone without a word, a
dropped network path) is found: a read alone waits on it until TCP keepalive gives up, if the
socket has keepalive at all (lesson 12 measured 48 s with redis-py's settings).
"""

import asyncio
import socket
from collections.abc import Callable

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError

# The web process's CPU per streamed event at 1,000 streams, 4,000 announcements a second
# (bench/run.py): 88-99 µs read as they came (1.07 announcements a read), 64-72 µs with this gap.
READ_GAP_SECONDS = 0.001


def _command(*parts: str) -> bytes:
    encoded = [part.encode() for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded
    )


class PatternSubscription(asyncio.Protocol):
    def __init__(self, *, patterns: list[str], deliver: Callable[[str, str], None],
                 health_check_seconds: float) -> None:  # fmt: skip
        self._patterns = patterns
        self._deliver = deliver
        self._health_check_seconds = health_check_seconds
        self._reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self._transport: asyncio.Transport | None = None
        self._health_check: asyncio.TimerHandle | None = None
        self._pong_due = False
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future = loop.create_future()  # every pattern subscribed
        self.closed: asyncio.Future = loop.create_future()  # its result: why it ended
        self._confirmations = 0

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        # TCP sends at once what is written (a PING in particular); a unix socket has no Nagle.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self, *, username: str | None, password: str | None) -> None:
        if password is not None:
            auth = ("AUTH", username, password) if username else ("AUTH", password)
            self._transport.write(_command(*auth))
        self._transport.write(_command("PSUBSCRIBE", *self._patterns))
        self._schedule_health_check()

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        self._transport.pause_reading()
        asyncio.get_running_loop().call_later(READ_GAP_SECONDS, self._read_on)
        while (reply := self._reader.gets()) is not False:
            if isinstance(reply, hiredis.ReplyError):  # a refused AUTH, a closed server
                self._end(RedisConnectionError(f"Redis refused the subscription: {reply}"))
                return
            if not isinstance(reply, list):  # "+OK" to AUTH
                continue
            kind = reply[0]
            if kind == "pmessage":
                self._deliver(reply[2], reply[3])
            elif kind == "pong":
                self._pong_due = False
            elif kind == "psubscribe":
                self._confirmations += 1
                if self._confirmations == len(self._patterns) and not self.ready.done():
                    self.ready.set_result(None)

    def _read_on(self) -> None:
        if not self._transport.is_closing():
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(RedisConnectionError(f"Redis closed the subscription's connection ({exc})"))

    def close(self) -> None:
        self._end(RedisConnectionError("closed"))

    def _schedule_health_check(self) -> None:
        loop = asyncio.get_running_loop()
        self._health_check = loop.call_later(self._health_check_seconds, self._check_health)

    def _check_health(self) -> None:
        if self._pong_due:
            self._end(RedisConnectionError(
                f"Redis did not answer a PING in {self._health_check_seconds} s"
            ))  # fmt: skip
            return
        self._pong_due = True
        self._transport.write(_command("PING"))
        self._schedule_health_check()

    def _end(self, error: Exception) -> None:
        if self._health_check is not None:
            self._health_check.cancel()
        if self._transport is not None:
            self._transport.abort()
        if not self.ready.done():
            self.ready.set_exception(error)
        if not self.closed.done():
            self.closed.set_result(error)


async def patterns_subscribe(url: str, patterns: list[str], *,
                             deliver: Callable[[str, str], None], connect_seconds: float,
                             health_check_seconds: float) -> PatternSubscription:  # fmt: skip
    """A subscription to ``patterns`` on the Redis at ``url``, subscribed when returned, that
    calls ``deliver(channel, data)`` for each message until ``closed``; RedisError or OSError
    (TimeoutError) if it cannot be made within ``connect_seconds``."""
    options = parse_url(url)
    connection_class = options.pop("connection_class", None)
    loop = asyncio.get_running_loop()

    def protocol() -> PatternSubscription:
        return PatternSubscription(
            patterns=patterns, deliver=deliver, health_check_seconds=health_check_seconds
        )

    async with asyncio.timeout(connect_seconds):
        if connection_class is UnixDomainSocketConnection:
            _, subscription = await loop.create_unix_connection(protocol, options["path"])
        else:
            tls = None
            if connection_class is SSLConnection:
                tls = SSLConnection(**options).ssl_context.get()
            _, subscription = await loop.create_connection(
                protocol, options.get("host", "localhost"), options.get("port", 6379), ssl=tls
            )
        try:
            subscription.start(username=options.get("username"), password=options.get("password"))
            await subscription.ready
        except BaseException:  # refused, or the timeout: its connection goes too
            subscription.close()
            raise
    return subscription
