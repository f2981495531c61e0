"""When Redis fails, as the page shows it: each run's steps folded into a before/after table.

A run is one of two experiments on a Redis of the run's own, never the site's:

- a crash (``none``, ``aof`` or ``rdb``): jobs in a list, entries in a stream and two
  subscribers on a channel, then SIGKILL and a restart, and what is left;
- a full memory (``noeviction`` or ``allkeys-lru``): 1 KB jobs pushed into a Redis with a tiny
  ``maxmemory``, and what the producer was told against what the list holds.

Events (all with ``lab: "failure"``): ``queued`` (its ``options`` hold the ``mode``), ``started``
(the worker), any number of ``step`` (a ``phase`` and its numbers), then ``succeeded`` or
``failed``; and ``predicted`` before a run. Everything here is a pure function of them.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run, TimelineEntry

JOBS = 3  # pushed on the list before the crash, as many entries added to the stream
PUBLISHED = 3  # published before the crash, and again once the subscribers are back
# Two subscribers, told apart by how their client was made: (short name, the call).
SUBSCRIBERS = {
    "plain": ("plain client", "Redis.from_url(url)"),
    "retry": ("client with retry", "Redis.from_url(url, retry=Retry(…, 10))"),
}
# The memory experiment: this many jobs of JOB_BYTES into a Redis of MAXMEMORY.
MEMORY_JOBS = 2000
JOB_BYTES = 1000
MAXMEMORY = "2mb"

CRASH_MODES = {
    "none": "Without persistence",
    "aof": "With the append-only file (appendfsync everysec)",
    "rdb": "With an RDB snapshot taken after job 2",
}
MEMORY_MODES = {
    "noeviction": "maxmemory-policy noeviction",
    "allkeys-lru": "maxmemory-policy allkeys-lru",
}
MODES = CRASH_MODES | MEMORY_MODES

PHASES = {
    "ready": "A Redis of this run's own is up",
    "filled": "Jobs, stream entries and messages are in",
    "killed": "Redis killed with SIGKILL, as in a crash",
    "down": "While Redis was down",
    "restarted": "Redis started again",
    "resubscribed": "Both subscribers are subscribed again",
    "after": "What is left",
    "pushing": "Pushing jobs",
    "full": "All jobs pushed",
}

STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Starting its Redis"),
    "running": (2, "Running"),
    "succeeded": (3, "Done"),
    "failed": (3, "Failed"),
    "lost": (3, "Lost"),
}


@dataclass(frozen=True)
class Row:
    """One line of the before/after table: a count before the crash and after the restart,
    each as a share of ``most`` for its bar."""

    key: str
    label: str
    before: int | None
    after: int | None
    most: int

    def percent(self, value: int | None) -> int:
        return round(100 * value / self.most) if value and self.most else 0

    @property
    def before_percent(self) -> int:
        return self.percent(self.before)

    @property
    def after_percent(self) -> int:
        return self.percent(self.after)


@dataclass
class FailureRun(Run):
    mode: str = ""
    worker: str = ""
    phases: dict = field(default_factory=dict)  # phase -> its numbers, as the worker sent them
    error: str = ""

    @property
    def status_label(self) -> str:
        return STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "running"}

    @property
    def mode_label(self) -> str:
        return MODES.get(self.mode, self.mode)

    @property
    def crash(self) -> bool:
        return self.mode in CRASH_MODES

    @property
    def jobs_after(self) -> int | None:
        return self.phases.get("after", {}).get("jobs")

    @property
    def rows(self) -> list[Row]:
        """The before/after table of a crash run, as far as it has gone."""
        before, after = self.phases.get("filled", {}), self.phases.get("after", {})
        got_before, got_after = before.get("received", {}), after.get("received", {})
        rows = [
            Row("jobs", "Jobs in the list", before.get("jobs"), after.get("jobs"), JOBS),
            Row("entries", "Entries in the stream", before.get("entries"), after.get("entries"),
                JOBS),
        ]  # fmt: skip
        for name, (label, _) in SUBSCRIBERS.items():
            rows.append(
                Row(f"got-{name}", f"Messages got, {label} (of {PUBLISHED})",
                    got_before.get(name), got_after.get(name), PUBLISHED)
            )  # fmt: skip
        return rows

    @property
    def subscribers(self) -> dict[str, tuple[str, str]]:
        return SUBSCRIBERS

    @property
    def maxmemory(self) -> str:
        return MAXMEMORY

    @property
    def errors(self) -> dict[str, int]:
        """ConnectionErrors each subscriber raised, over the whole run."""
        return self.phases.get("after", {}).get("errors", {})

    @property
    def memory(self) -> dict:
        return self.phases.get("full") or self.phases.get("pushing", {})

    @property
    def memory_lost(self) -> int | None:
        """Jobs Redis accepted (the producer saw no error) that the list no longer holds."""
        full = self.phases.get("full")
        return full["accepted"] - full["in_list"] if full else None

    @property
    def memory_percent(self) -> dict[str, int]:
        numbers = self.memory
        return {
            name: round(100 * numbers.get(name, 0) / MEMORY_JOBS)
            for name in ("accepted", "refused", "in_list")
        }


class FailureFold(LabFold):
    run_type = FailureRun
    runs_shown = 4
    status_rank = {status: rank for status, (rank, _) in STATUS.items()}
    # Predict, then observe: how many of the JOBS jobs in the list a crash run finds after the
    # restart. A memory run answers nothing.
    outcomes = {
        "0": "None of them",
        "some": "Some of them, not all",
        "all": f"All {JOBS}",
    }

    def apply(self, event_id: str, event: dict) -> Iterable[FailureRun]:
        kind, run = event.get("kind"), self.run_begun(event)
        if run is None:
            return []
        status, label, detail = kind, "", ""
        if kind == "queued":
            run.mode = str(event.get("options", {}).get("mode", ""))
            label = "Queued"
        elif kind == "started":
            run.worker = event.get("worker", "")
            label = "Picked up by a worker"
        elif kind == "step":
            phase = event.get("phase")
            if phase not in PHASES:
                return []
            numbers = event.get("numbers")
            run.phases[phase] = numbers if isinstance(numbers, dict) else {}
            status, label, detail = "running", PHASES[phase], str(event.get("detail", ""))
        elif kind == "succeeded":
            label = "Finished"
        elif kind == "failed":
            run.error = str(event.get("error", ""))
            label, detail = "Failed", run.error
        if status not in self.status_rank:
            return []
        self.advance(run, status)
        offset_ms = round((event["at"] - run.queued_at) * 1000)
        run.timeline.append(TimelineEntry(kind, label, offset_ms, detail))
        return [run]

    def observed(self, run: FailureRun) -> str | None:
        """How many of the jobs a finished crash run found after the restart; None for a memory
        run or one not finished."""
        if run.status != "succeeded" or not run.crash or run.jobs_after is None:
            return None
        if run.jobs_after == 0:
            return "0"
        return "all" if run.jobs_after >= JOBS else "some"


def restarted_both_ways(runs: list[FailureRun]) -> bool:
    """A crash run finished without persistence, and one with the append-only file."""
    done = {run.mode for run in runs if run.status == "succeeded"}
    return {"none", "aof"} <= done


def compared_policies(runs: list[FailureRun]) -> bool:
    done = {run.mode for run in runs if run.status == "succeeded"}
    return set(MEMORY_MODES) <= done
