"""One Redis subscription per web process, fanned out to the open event streams.

Apps register the channel patterns they announce on when they start
(``hub_patterns_register`` in their ``AppConfig.ready``); the hub holds a single pattern
subscription to all of them. Every streaming connection registers a wake-up (an
``asyncio.Event``) for one channel, and the hub sets the wake-ups of the channel a message
arrives on, keeping what was announced for the listener (``Wakeup.take``): what it means is the
listener's business. Wake-ups coalesce, and a wake-up keeps at most ``ANNOUNCEMENTS_KEPT``
announcements: past that, and whenever the hub's own connection changed (it may have missed
some), it says ``reread`` instead, so a connection that is slow to read never makes the hub wait
nor holds its memory, and knows to read its record again.

A stream that listens under a name can also be told to end: ``streams_end`` publishes
``end:<name>`` on its channel, and every process's hub marks the wake-ups of that name on that
channel ``ended``.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from django.conf import settings
from redis.exceptions import RedisError

from .redis import redis_client
from .subscription import patterns_subscribe

log = logging.getLogger(__name__)
RECONNECT_DELAY_SECONDS = 1.0
# A PING this often on the hub's connection, answered before the next: a connection that went
# half-open (the server or the network path gone without a word) is found within twice this.
HEALTH_CHECK_SECONDS = 15.0
# Announcements a wake-up holds until its listener takes them; past that it says "reread".
ANNOUNCEMENTS_KEPT = 64
# An announcement that ends streams; the labs' announcements start with a lab's name.
END_PREFIX = "end:"


# The site's own announcement channels, and nothing else: a pattern subscriber counts in the
# reply of every PUBLISH it matches, and the labs show learners those counts.
_patterns: list[str] = []


def hub_patterns_register(*patterns: str) -> None:
    """Have every hub of this process subscribe to ``patterns`` (called at app start-up)."""
    _patterns.extend(pattern for pattern in patterns if pattern not in _patterns)


class Wakeup:
    """Set whenever its channel is announced; ``ended`` once its streams were told to end.

    Its one listener waits for it with ``woken``. Not an ``asyncio.Event``: each open stream
    has one, and an Event keeps a deque for its waiters (760 bytes) where one future, only
    while the listener waits, does."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ended = False
        self._announced: list[str] = []
        self._reread = False
        self._set = False
        self._waiter: asyncio.Future | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(True)

    def clear(self) -> None:
        self._set = False

    async def woken(self, seconds: float) -> bool:
        """Wait until set: False when ``seconds`` passed first. A future and a timer, not
        ``asyncio.wait_for``, whose coroutine and Timeout would be an open stream's too for as
        long as it waits."""
        if self._set:  # set while the listener was busy: no timer to set up and cancel
            return True
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(seconds, _unset_result, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def announce(self, data: str) -> None:
        if not self._reread:
            if len(self._announced) < ANNOUNCEMENTS_KEPT:
                self._announced.append(data)
            else:
                self.reread()
        self.set()

    def reread(self) -> None:
        """Some announcements may have been missed: the listener reads its record again."""
        self._announced.clear()
        self._reread = True
        self.set()

    def take(self) -> tuple[list[str], bool]:
        """The announcements since the last take, oldest first, and whether the listener must
        read its record again (then they are none: the record holds them)."""
        announced, reread = self._announced, self._reread
        self._announced, self._reread = [], False
        return announced, reread


def _unset_result(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(False)


def streams_end(*, channel: str, name: str) -> int:
    """Tell the streams listening on ``channel`` as ``name``, in every web process, to end;
    returns how many processes heard it."""
    return redis_client().publish(channel, f"{END_PREFIX}{name}")


class EventHub:
    def __init__(self) -> None:
        self._wakeups: dict[str, set[Wakeup]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()

    @contextlib.asynccontextmanager
    async def listen(self, channel: str, *, name: str = "") -> AsyncIterator[Wakeup]:
        """A wake-up set whenever ``channel`` is announced, or the hub's connection changes;
        with a ``name``, ended (and set) by ``streams_end`` for that name."""
        wakeup = Wakeup(name)
        self._wakeups[channel].add(wakeup)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="learnsite-event-hub")
        try:
            yield wakeup
        finally:
            listeners = self._wakeups[channel]
            listeners.discard(wakeup)
            if not listeners:
                del self._wakeups[channel]

    def listener_count(self) -> int:
        return sum(len(listeners) for listeners in self._wakeups.values())

    def _wake_all(self) -> None:
        for listeners in self._wakeups.values():
            for wakeup in listeners:
                wakeup.reread()

    def _deliver(self, channel: str, data: str) -> None:
        ends = data.removeprefix(END_PREFIX) if data.startswith(END_PREFIX) else None
        for wakeup in self._wakeups.get(channel, ()):
            if ends is None:
                wakeup.announce(data)
            elif wakeup.name and wakeup.name == ends:
                wakeup.ended = True
                wakeup.set()

    async def _run(self) -> None:
        while True:
            subscription = None
            try:
                subscription = await patterns_subscribe(
                    settings.REDIS_URL, _patterns, deliver=self._deliver,
                    connect_seconds=settings.REDIS_TIMEOUT_SECONDS,
                    health_check_seconds=HEALTH_CHECK_SECONDS,
                )  # fmt: skip
                self.connected.set()
                self._wake_all()  # streams re-read what they may have missed while down
                error = await subscription.closed
                log.warning("event hub lost Redis: %r", error)
            except (RedisError, OSError) as error:
                log.warning("event hub could not subscribe: %r", error)
            finally:
                self.connected.clear()
                self._wake_all()  # streams tell their pages that live updates paused
                if subscription is not None:
                    subscription.close()
            await asyncio.sleep(RECONNECT_DELAY_SECONDS)


_hubs: dict[asyncio.AbstractEventLoop, EventHub] = {}


def event_hub() -> EventHub:
    """The hub of the running event loop: one per web process under uvicorn."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = EventHub()
    return _hubs[loop]


def open_listeners() -> int:
    """Event streams open in this process, over every event loop (for /healthz)."""
    return sum(hub.listener_count() for hub in _hubs.values())
