"""A stream's wake-up (learnsite/hub.py): what its one listener waits on between frames."""

import asyncio

from learnsite.hub import Wakeup


def test_a_wakeup_wakes_its_waiting_listener_and_says_when_the_time_passed_first():
    async def scenario() -> tuple:
        wakeup = Wakeup("ping")
        timed_out = await wakeup.woken(0.01)
        waiting = asyncio.create_task(wakeup.woken(10))
        await asyncio.sleep(0)  # the listener is waiting now
        wakeup.set()
        woken = await waiting
        set_while_busy = await wakeup.woken(10)  # still set: no wait
        wakeup.clear()
        cleared = await wakeup.woken(0.01)
        return timed_out, woken, set_while_busy, cleared

    assert asyncio.run(scenario()) == (False, True, True, False)
