"""Driving a lab's event stream (labs.pages._event_stream) in the test process, on the
session's real Redis: its frames, read by a task of their own as they come."""

import asyncio


class Frames:
    """The stream's frames, read by a task of their own as they come."""

    def __init__(self, stream) -> None:
        self.stream, self.seen, self._new = stream, [], asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.stream:
            if frame is not None:
                self.seen.append(frame)
                self._new.set()

    async def until(self, predicate) -> str:
        async with asyncio.timeout(5):
            while True:
                found = next((frame for frame in self.seen if predicate(frame)), None)
                if found is not None:
                    return found
                self._new.clear()
                await self._new.wait()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.stream.aclose()
