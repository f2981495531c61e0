"""Ping the worker, as the page shows it: a task's runs folded from their events.

A run's events, in order: ``queued`` (by the web request), ``started`` (by the worker), any
number of ``progress``, then ``succeeded`` or ``failed``. A ``stream-resumed`` event (the page's
stream came back with Last-Event-ID) belongs to no run: it goes in the timeline of every run
that the page had not seen end when its stream dropped.
"""

from dataclasses import dataclass, field

from labs.fold import (
    STREAM_RESUMED,
    TERMINAL_KINDS,
    LabFold,
    Run,
    TimelineEntry,
    stream_id_after,
)

PING_STEPS = 5

STATUS_LABELS = {
    "queued": "Queued",
    "started": "Started",
    "running": "Running",
    "succeeded": "Done",
    "failed": "Failed",
    "lost": "Lost",
}
LABELS = {
    "queued": "Queued on the broker",
    "started": "Picked up by a worker",
    "progress": "Progress",
    "succeeded": "Finished",
    "failed": "Failed",
}


@dataclass
class TaskRun(Run):
    lab: str = ""
    task_id: str = ""
    options: dict = field(default_factory=dict)
    countdown: int = 0  # seconds a worker holds the task before running it
    found: str = ""  # the broker lab's first read while held: "list", "unacked" or "nowhere"
    percent: int = 0
    result: dict = field(default_factory=dict)
    error: str = ""
    # The page's stream dropped and resumed between this run's queued event and its end.
    resumed: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def steps(self) -> list[int]:
        """The steps of the run's timeline, in order: what a prediction about a resumed stream
        is checked against."""
        return [entry.step for entry in self.timeline if entry.step is not None]


class TaskFold(LabFold):
    """A Celery task that reports its steps: the ping lab's runs (the broker lab's too)."""

    run_type = TaskRun
    status_rank = {"queued": 0, "started": 1, "running": 2, "succeeded": 3, "failed": 3}

    def __init__(self) -> None:
        super().__init__()
        self.ended: dict[str, str] = {}  # run id -> id of its first terminal event

    def apply(self, event_id: str, event: dict) -> list[TaskRun]:
        kind = event.get("kind")
        if kind == STREAM_RESUMED:
            return self._resume_apply(event)
        if kind not in LABELS or not event.get("run"):
            return []
        run = self.run_for(event)
        run.lab = run.lab or event.get("lab", "")
        if kind == "queued":
            run.task_id, run.options = event.get("task_id", ""), event.get("options", {})
            run.countdown = int(event.get("countdown", 0))
        if kind in TERMINAL_KINDS:
            self.ended.setdefault(run.id, event_id)
        detail, step = "", None
        if kind == "progress":
            run.percent = int(event.get("percent", run.percent))
            step = int(event["step"])
            detail = f"step {step} of {event.get('of')}"
        elif kind == "succeeded":
            run.percent = 100
            run.result = event.get("result", {})
        elif kind == "failed":
            run.error = event.get("error", "")
            detail = run.error
        self.advance(run, "running" if kind == "progress" else kind)
        offset_ms = round((event["at"] - run.queued_at) * 1000)
        run.timeline.append(TimelineEntry(kind, LABELS[kind], offset_ms, detail, step))
        return [run]

    def run_deadline(self, run: TaskRun, deadline: float) -> float:
        """A run sent with a countdown is held that long by its worker, silently."""
        return deadline + run.countdown

    def _resume_apply(self, event: dict) -> list[TaskRun]:
        """Mark the runs going when the page's stream dropped: queued before it came back, and
        not seen to end by the page (no end, or an end after the last event id it had)."""
        after, replayed = event["after"], int(event["replayed"])
        marked = []
        for run in self.runs.values():
            if run.id in self.ended and not stream_id_after(self.ended[run.id], after):
                continue
            run.resumed = True
            run.timeline.append(
                TimelineEntry(
                    kind=STREAM_RESUMED,
                    label="Stream dropped and resumed",
                    offset_ms=round((event["at"] - run.queued_at) * 1000),
                    detail=f"{replayed} event{'' if replayed == 1 else 's'} replayed",
                )
            )
            marked.append(run)
        return marked


class PingFold(TaskFold):
    # Predict, then observe (the ping lab, as "this site's own stream"): what a page shows of
    # a run whose stream was dropped and resumed while the run was going.
    outcomes = {
        "all": "Every step, once",
        "gap": "Some steps are missing",
        "twice": "Some steps appear twice",
    }

    def observed(self, run: TaskRun) -> str | None:
        """What a finished run whose stream was dropped and resumed shows of its steps; None
        for a run not resumed, or not finished."""
        if not run.resumed or run.status != "succeeded":
            return None
        if len(set(run.steps)) < len(run.steps):
            return "twice"
        return "all" if set(run.steps) == set(range(1, PING_STEPS + 1)) else "gap"


def finished_a_run(runs: list[TaskRun]) -> bool:
    return any(run.status == "succeeded" for run in runs)
