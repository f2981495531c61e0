"""Lab runs as the learner sees them, folded from their recorded events.

A run's events, in order: ``queued`` (by the web request), ``started`` (by the worker), any
number of ``progress``, then ``succeeded`` or ``failed``; and, for a run of the broker lab sent
with a countdown, ``found``: where the page's first read of Redis while a worker held it found
its message. The fold is a pure function of the events, so the page, a fresh stream and a
reconnected stream all show the same thing.

A ``stream-resumed`` event (the page's stream came back with Last-Event-ID) belongs to no run:
it goes in the timeline of every run that the page had not seen end when its stream dropped.
"""

from dataclasses import dataclass, field

from .events import STREAM_RESUMED, TERMINAL_KINDS, stream_id_after
from .kinds.ping.fold import PING_STEPS
from .predictions import PredictionPairing, Runs

# A run still queued after this long gets an explanation instead of a silent spinner.
WAITING_HINT_AFTER_SECONDS = 3.0
RUNS_SHOWN = 5

# Predict, then observe (the ping lab, as "this site's own stream"): what a page shows of a run
# whose stream was dropped and resumed while the run was going.
OUTCOMES = {
    "all": "Every step, once",
    "gap": "Some steps are missing",
    "twice": "Some steps appear twice",
}

# Statuses only move forward, so a late or repeated event never turns a run back.
STATUS_RANK = {"queued": 0, "started": 1, "running": 2, "succeeded": 3, "failed": 3}
STATUS_LABELS = {
    "queued": "Queued",
    "started": "Started",
    "running": "Running",
    "succeeded": "Done",
    "failed": "Failed",
}
LABELS = {
    "queued": "Queued on the broker",
    "started": "Picked up by a worker",
    "progress": "Progress",
    "succeeded": "Finished",
    "failed": "Failed",
}


@dataclass
class TimelineEntry:
    kind: str
    label: str
    offset_ms: int
    detail: str = ""
    step: int | None = None  # a progress entry's step


@dataclass
class LabRun:
    id: str
    lab: str
    queued_at: float
    task_id: str = ""
    options: dict = field(default_factory=dict)
    countdown: int = 0  # seconds a worker holds the task before running it
    found: str = ""  # the broker lab's first read while held: "list", "unacked" or "nowhere"
    status: str = "queued"
    percent: int = 0
    timeline: list[TimelineEntry] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    error: str = ""
    # Queued for longer than WAITING_HINT_AFTER_SECONDS: the page explains why.
    waiting: bool = False
    # The page's stream dropped and resumed between this run's queued event and its end.
    resumed: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def steps(self) -> list[int]:
        """The steps of the run's timeline, in order: what a prediction about a resumed stream
        (OUTCOMES) is checked against."""
        return [entry.step for entry in self.timeline if entry.step is not None]


def runs_fold(events: list[tuple[str, dict]], *, now: float) -> Runs:
    """The learner's most recent runs as of ``now``, newest first."""
    runs: dict[str, LabRun] = {}
    ended: dict[str, str] = {}  # run id -> id of its first terminal event
    pairing = PredictionPairing()
    for event_id, event in events:
        kind, run_id = event.get("kind"), event.get("run")
        if pairing.take(event):
            continue
        if kind == STREAM_RESUMED:
            _resume_apply(runs, ended, event)
            for run in runs.values():  # a run it marks may now show how it came out
                pairing.seen(run)
            continue
        if kind == "found" and run_id in runs:
            run = runs[run_id]
            run.found = run.found or event.get("where", "")
            pairing.seen(run)
            continue
        if kind not in LABELS or not run_id:
            continue
        run = runs.get(run_id)
        if run is None:
            run = runs[run_id] = LabRun(id=run_id, lab=event.get("lab", ""), queued_at=event["at"])
        if kind == "queued":
            run.task_id, run.options = event.get("task_id", ""), event.get("options", {})
            run.countdown = int(event.get("countdown", 0))
        if kind in TERMINAL_KINDS:
            ended.setdefault(run_id, event_id)
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
        status = "running" if kind == "progress" else kind
        if STATUS_RANK[status] >= STATUS_RANK[run.status]:
            run.status = status
        run.timeline.append(
            TimelineEntry(
                kind=kind,
                label=LABELS[kind],
                offset_ms=round((event["at"] - run.queued_at) * 1000),
                detail=detail,
                step=step,
            )
        )
        pairing.seen(run)
    for run in runs.values():
        run.waiting = run.status == "queued" and now - run.queued_at >= WAITING_HINT_AFTER_SECONDS
    shown = Runs(sorted(runs.values(), key=lambda run: run.queued_at, reverse=True)[:RUNS_SHOWN])
    shown.prediction = pairing.latest
    return shown


def ping_observed(run: LabRun) -> str | None:
    """What a finished ping run whose stream was dropped and resumed shows of its steps; None
    for a run not resumed, or not finished."""
    if not run.resumed or run.status != "succeeded":
        return None
    if len(set(run.steps)) < len(run.steps):
        return "twice"
    return "all" if set(run.steps) == set(range(1, PING_STEPS + 1)) else "gap"


def _resume_apply(runs: dict[str, LabRun], ended: dict[str, str], event: dict) -> None:
    """Mark the runs going when the page's stream dropped: queued before it came back, and not
    seen to end by the page (no end, or an end after the last event id the page had)."""
    after, replayed = event["after"], int(event["replayed"])
    for run in runs.values():
        if run.id in ended and not stream_id_after(ended[run.id], after):
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
