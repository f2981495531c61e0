"""Lab goals: the recording of those an event stream sees met (the record of met goals is the
learner's: learners/progress.py; ``LabKind.goals_met`` says which ones runs meet)."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import Error as DatabaseError

from learners.progress import lab_goals_record

log = logging.getLogger(__name__)


class _GoalsRecorder:
    """Records the goals an event loop's streams see met, many learners' at a time.

    A class that runs a lab together meets its goals together: recorded one learner at a time,
    in the one thread the loop gives the database, the thousandth stream would wait for 999
    writes before it sent its next event. A stream's goals join the batch being gathered,
    which is written (two queries) as soon as the one before it is."""

    def __init__(self) -> None:
        self.pending: set[tuple[str, str, str]] = set()
        self.written: asyncio.Future | None = None  # done once ``pending`` is written
        self.task: asyncio.Task | None = None

    async def record(self, goals: set[tuple[str, str, str]]) -> None:
        self.pending |= goals
        if self.written is None:
            self.written = asyncio.get_running_loop().create_future()
        written = self.written
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._write(), name="learnsite-goals-recorder")
        await asyncio.shield(written)  # a stream that closes leaves the others' batch be

    async def _write(self) -> None:
        while self.pending:
            goals, written = self.pending, self.written
            self.pending, self.written = set(), None
            try:
                await sync_to_async(lab_goals_record)(goals=goals)
            except DatabaseError as error:  # the lab page records them when next opened
                log.warning("could not record %d lab goals: %s", len(goals), error)
            finally:
                written.set_result(None)


_recorders: dict[asyncio.AbstractEventLoop, _GoalsRecorder] = {}


async def alab_goals_record(*, learner_id: str, kind: str, goals: set[str]) -> None:
    """Record ``goals`` of lab ``kind`` as met by the learner, in one batch with the goals
    other streams of this event loop met meanwhile."""
    loop = asyncio.get_running_loop()
    if loop not in _recorders:
        _recorders[loop] = _GoalsRecorder()
    await _recorders[loop].record({(learner_id, kind, goal) for goal in goals})
