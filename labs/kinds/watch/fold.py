"""Watching a live system, as the page shows it: a dashboard of a private worker built from its
real Celery events, its queue's length sampled with LLEN, and an alert on that length.

Events (all with ``lab: "watch"``): ``queued`` (options ``burst`` and ``threshold``),
``started`` (the site's worker took the run), ``ready`` (the run's own Redis and worker answer,
and its event receiver listens), ``sample`` (every ``SAMPLE_SECONDS``: the queue's length and
what the receiver has counted so far), ``snapshot`` (one ``inspect()`` mid-burst), then
``succeeded`` or ``failed``; and ``predicted`` before a run. The alert is worked out here, from
the samples, so the page, a reconnect and the prediction all see the same one.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run

# What the learner chooses from: the burst's size, and the queue length the alert watches for.
BURSTS = (5, 20, 50)
THRESHOLDS = (5, 10, 25)
BURST_DEFAULT, THRESHOLD_DEFAULT = 50, 10
TASK_SECONDS = 0.2  # each task of the burst sleeps this long
CONCURRENCY = 2  # the private worker's threads
SAMPLE_SECONDS = 0.5
# The alert fires once the length has been at or above the threshold for this long (three
# samples in a row), and clears at the first sample below it: a blip does not page anyone.
ALERT_FOR_MS = 1000
# Worker-side events the receiver counts, in the order a task goes through them.
TASK_EVENTS = ("task-sent", "task-received", "task-started", "task-succeeded", "task-failed")

STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Starting its Redis and worker"),
    "running": (2, "Watching"),
    "succeeded": (3, "Done"),
    "failed": (3, "Failed"),
    "lost": (3, "Lost"),
}


@dataclass(frozen=True)
class Sample:
    t: int  # ms since the burst was sent
    length: int  # LLEN of the queue's list
    counts: dict  # events of each type the receiver has seen so far
    heartbeats: int

    @property
    def sent(self) -> int:
        return self.counts.get("task-sent", 0)

    @property
    def received(self) -> int:
        return self.counts.get("task-received", 0)

    @property
    def started(self) -> int:
        return self.counts.get("task-started", 0)

    @property
    def succeeded(self) -> int:
        return self.counts.get("task-succeeded", 0)


@dataclass(frozen=True)
class AlertChange:
    t: int
    fired: bool  # True: fired; False: cleared


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    length: int
    over: bool  # at or above the threshold


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    base_y: int
    threshold_y: int
    bar_width: int
    bars: list[Bar]
    description: str
    sample_seconds: float = SAMPLE_SECONDS


@dataclass
class WatchRun(Run):
    burst: int = 0
    threshold: int = 0
    worker: str = ""  # the site's worker that ran the lab
    sandbox_worker: str = ""  # the private worker being watched
    worker_start_ms: int = 0
    samples: list[Sample] = field(default_factory=list)
    changes: list[AlertChange] = field(default_factory=list)
    snapshot: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    error: str = ""

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "running"}

    @property
    def alerting(self) -> bool:
        return bool(self.changes) and self.changes[-1].fired

    @property
    def fired(self) -> bool:
        return any(change.fired for change in self.changes)

    @property
    def cleared(self) -> bool:
        return self.fired and not self.alerting

    @property
    def status_label(self) -> str:
        """Its status and, once it is watching, the alert's: lab.js says each change of it."""
        label = STATUS[self.status][1]
        if self.status in {"running", "succeeded"}:
            label += ", alert firing" if self.alerting else ", alert clear"
        return label

    @property
    def alert_for_seconds(self) -> float:
        return ALERT_FOR_MS / 1000

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    @property
    def peak(self) -> int:
        return max((sample.length for sample in self.samples), default=0)

    @property
    def chart(self) -> Chart | None:
        return watch_chart(self) if self.samples else None


def alert_changes(samples: list[Sample], *, threshold: int) -> list[AlertChange]:
    """When the alert fired and cleared over ``samples``, in order. It fires once the length has
    stayed at or above ``threshold`` for ALERT_FOR_MS, and clears at the first sample below."""
    changes: list[AlertChange] = []
    since, firing = None, False
    for sample in samples:
        if sample.length >= threshold:
            since = sample.t if since is None else since
            if not firing and sample.t - since >= ALERT_FOR_MS:
                firing = True
                changes.append(AlertChange(t=sample.t, fired=True))
        else:
            since = None
            if firing:
                firing = False
                changes.append(AlertChange(t=sample.t, fired=False))
    return changes


def _count(value) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


class WatchFold(LabFold):
    run_type = WatchRun
    runs_shown = 3
    status_rank = {status: rank for status, (rank, _) in STATUS.items()}
    # A run is silent while its worker starts (seconds, on a loaded machine), then samples
    # twice a second until it ends.
    deadline_seconds = 60.0
    # Predict, then observe: what the queue-length alert did in the next run. (A run ends once
    # its queue is empty, so an alert that fired has always cleared by then.)
    outcomes = {
        "never": "It never fired",
        "fired-cleared": "It fired, then cleared as the queue drained",
    }

    def apply(self, event_id: str, event: dict) -> Iterable[WatchRun]:
        kind, run = event.get("kind"), self.run_begun(event)
        if run is None:
            return []
        status = kind
        if kind == "queued":
            options = event.get("options") or {}
            run.burst, run.threshold = (
                _count(options.get("burst")),
                _count(options.get("threshold")),
            )
        elif kind == "started":
            run.worker = str(event.get("worker", ""))
        elif kind == "ready":
            run.sandbox_worker = str(event.get("sandbox_worker", ""))
            run.worker_start_ms = _count(event.get("worker_start_ms"))
            status = "running"
        elif kind == "sample":
            counts = event.get("counts") if isinstance(event.get("counts"), dict) else {}
            run.samples.append(
                Sample(
                    t=_count(event.get("t")),
                    length=_count(event.get("length")),
                    counts={name: _count(counts.get(name)) for name in TASK_EVENTS},
                    heartbeats=_count(event.get("heartbeats")),
                )
            )
            run.changes = alert_changes(run.samples, threshold=run.threshold)
            status = "running"
        elif kind == "snapshot":
            run.snapshot = {
                "t": _count(event.get("t")),
                "replied": bool(event.get("replied")),
                "active": _count(event.get("active")),
                "reserved": _count(event.get("reserved")),
                "length": _count(event.get("length")),
            }
            status = "running"
        elif kind == "succeeded":
            run.result = event.get("result") if isinstance(event.get("result"), dict) else {}
        elif kind == "failed":
            run.error = str(event.get("error", ""))
        if status in self.status_rank:
            self.advance(run, status)
        return [run]

    def observed(self, run: WatchRun) -> str | None:
        """What the alert did, once the run is over; None before."""
        if run.status != "succeeded":
            return None
        if not run.fired:
            return "never"
        return "fired-cleared" if run.cleared else None


def saw_the_alert_fire_and_clear(runs: list[WatchRun]) -> bool:
    return any(run.status == "succeeded" and run.cleared for run in runs)


# The chart: one bar per sample, in SVG (attributes, not styles: the page's CSP allows none).

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, BAR_GAP = 640, 160, 10, 2


def watch_chart(run: WatchRun) -> Chart:
    scale = max(run.peak, run.threshold, 1)
    slots = max(len(run.samples), 20)
    bar_width = max(2, CHART_WIDTH // slots - BAR_GAP)
    plot = CHART_HEIGHT - CHART_TOP

    def y(length: int) -> int:
        return CHART_HEIGHT - round(length * plot / scale)

    bars = [
        Bar(
            x=index * (bar_width + BAR_GAP),
            y=y(sample.length),
            height=CHART_HEIGHT - y(sample.length),
            length=sample.length,
            over=sample.length >= run.threshold,
        )
        for index, sample in enumerate(run.samples)
    ]
    lengths = ", ".join(str(sample.length) for sample in run.samples)
    described = (
        f"Queue length every {SAMPLE_SECONDS} s: {lengths}. Peak {run.peak}, "
        f"alert threshold {run.threshold}."
    )
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        base_y=CHART_HEIGHT,
        threshold_y=y(run.threshold),
        bar_width=bar_width,
        bars=bars,
        description=described,
    )
