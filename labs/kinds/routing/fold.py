"""Routing, queues and priorities, as the page shows it: each run's six tasks, their queue and
their wait, folded from the run's events, and the chart of waits.

A run's events (all with ``lab: "routing"``): ``queued`` (web, with ``options.setup``),
``started`` (the lab's worker), ``ready`` (the run's own workers answer: ``workers``, each a
``name``, ``queue`` and ``slots``), any number of ``task`` (a line the program printed:
``task`` "slow 1", ``step`` queued, started or finished, ``t`` ms since it began sending; a
finished one has its ``queue`` and ``wait_ms``), then ``succeeded`` or ``failed``.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run, Runs

SLOW_SECONDS = 1.5  # what the program's slow task sleeps
SLOW_TASKS, FAST_TASKS = 4, 2
TASK_LABELS = tuple(
    [f"slow {n}" for n in range(1, SLOW_TASKS + 1)]
    + [f"fast {n}" for n in range(1, FAST_TASKS + 1)]
)
STEPS = ("queued", "started", "finished")

SETUPS = {
    "one-queue": "One queue",
    "routed": "Routed apart",
}

STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Starting its Redis and workers"),
    "running": (2, "Sending the tasks"),
    "succeeded": (3, "Done"),
    "failed": (3, "Failed"),
}

# The chart: an SVG of viewBox units, one row per task.
CHART_WIDTH, LABEL_WIDTH, ROW_HEIGHT, BAR_HEIGHT, TOP = 400, 48, 24, 16, 20


@dataclass
class TaskRow:
    label: str  # "slow 1"
    queued_t: int | None = None  # ms since the program began sending
    started_t: int | None = None
    finished_t: int | None = None
    queue: str = ""  # the queue it was delivered from, as its worker saw it
    wait_ms: int | None = None  # from queued to started, measured by the task's own clock

    @property
    def kind(self) -> str:
        return self.label.split()[0]

    @property
    def step(self) -> str:
        if self.finished_t is not None:
            return "finished"
        return "started" if self.started_t is not None else "queued"


@dataclass
class RoutingRun(Run):
    setup: str = ""
    worker: str = ""  # the site's worker that ran the lab
    workers: list[dict] = field(default_factory=list)  # the run's own workers
    tasks: dict[str, TaskRow] = field(default_factory=dict)
    error: str = ""

    @property
    def setup_label(self) -> str:
        return SETUPS.get(self.setup, self.setup)

    @property
    def status_label(self) -> str:
        return "Lost" if self.status == "lost" else STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "running"}

    @property
    def rows(self) -> list[TaskRow]:
        return [self.tasks[label] for label in TASK_LABELS if label in self.tasks]

    @property
    def all_finished(self) -> bool:
        rows = self.rows
        return len(rows) == len(TASK_LABELS) and all(r.wait_ms is not None for r in rows)

    def longest_wait_ms(self, kind: str) -> int | None:
        """The longest wait of the run's ``kind`` tasks, once they have all finished."""
        waits = [row.wait_ms for row in self.rows if row.kind == kind]
        expected = SLOW_TASKS if kind == "slow" else FAST_TASKS
        if len(waits) < expected or None in waits:
            return None
        return max(waits)

    @property
    def fast_wait_ms(self) -> int | None:
        return self.longest_wait_ms("fast")

    @property
    def slow_done_ms(self) -> int | None:
        """When the last slow task finished, ms after the program began sending."""
        ends = [row.finished_t for row in self.rows if row.kind == "slow"]
        if len(ends) < SLOW_TASKS or None in ends:
            return None
        return max(ends)

    @property
    def chart(self) -> dict | None:
        return chart_build(self.rows) if self.rows else None


def chart_build(rows: list[TaskRow]) -> dict:
    """Each task as a row: a pale bar while it waited in its queue, a solid one while it ran."""
    known = [t for row in rows for t in (row.queued_t, row.started_t, row.finished_t) if t]
    span_ms = max(1000, -(-max(known, default=0) // 1000) * 1000)  # whole seconds, at least 1
    plot = CHART_WIDTH - LABEL_WIDTH - 8

    def x(ms: int) -> int:
        return LABEL_WIDTH + round(ms * plot / span_ms)

    bars = []
    for index, row in enumerate(rows):
        queued = row.queued_t or 0
        started = queued + row.wait_ms if row.wait_ms is not None else row.started_t
        waited_to = started if started is not None else max(known, default=queued)
        bar = {
            "label": row.label,
            "kind": row.kind,
            "y": TOP + index * ROW_HEIGHT,
            "wait_x": x(queued),
            "wait_width": max(1, x(waited_to) - x(queued)),
        }
        if started is not None and row.finished_t is not None:
            bar |= {"run_x": x(started), "run_width": max(2, x(row.finished_t) - x(started))}
        bars.append(bar)
    axis_y = TOP + len(rows) * ROW_HEIGHT + 4
    ticks = [{"x": x(ms), "label": f"{ms // 1000} s"} for ms in range(0, span_ms + 1, 1000)]
    waits = ", ".join(
        f"{row.label} waited {row.wait_ms} ms" for row in rows if row.wait_ms is not None
    )
    return {
        "width": CHART_WIDTH,
        "height": axis_y + 22,
        "plot_x": LABEL_WIDTH,
        "plot_right": LABEL_WIDTH + plot,
        "axis_y": axis_y,
        "bar_height": BAR_HEIGHT,
        "bars": bars,
        "ticks": ticks,
        "description": waits or "No task has started yet.",
    }


class RoutingRuns(Runs):
    # The newest finished run of each setup: its fast tasks' wait, side by side.
    compared: list[RoutingRun] = []


class RoutingFold(LabFold):
    run_type = RoutingRun
    runs_type = RoutingRuns
    status_rank = {status: rank for status, (rank, _) in STATUS.items()}
    # Two workers may take up to sandbox.START_SECONDS each to start, silently.
    deadline_seconds = 90.0
    # Predict, then observe: in the one-queue setup, how long its fast tasks waited, counted
    # in slow tasks (1.5 s each). A routed run answers nothing.
    outcomes = {
        "none": "Next to nothing, as when routed apart",
        "one": "About one slow task (1.5 s)",
        "two": "About two slow tasks (3 s)",
        "four": "About four slow tasks (6 s)",
    }

    def apply(self, event_id: str, event: dict) -> Iterable[RoutingRun]:
        kind, run = event.get("kind"), self.run_begun(event)
        if run is None:
            return []
        status = kind
        if kind == "queued":
            run.setup = str(event.get("options", {}).get("setup", ""))
        elif kind == "started":
            run.worker = event.get("worker", "")
        elif kind == "ready":
            run.workers = [w for w in event.get("workers", []) if isinstance(w, dict)]
            status = "running"
        elif kind == "task":
            task_apply(run, event)
            status = "running"
        elif kind == "failed":
            run.error = event.get("error", "")
        if status in self.status_rank:
            self.advance(run, status)
        return [run]

    def observed(self, run: RoutingRun) -> str | None:
        """How long a finished one-queue run's fast tasks waited, in slow tasks."""
        if run.setup != "one-queue" or run.status != "succeeded" or run.fast_wait_ms is None:
            return None
        return wait_in_slow_tasks(run.fast_wait_ms)

    def result(self, *, now: float, deadline: float | None = None) -> RoutingRuns:
        shown = super().result(now=now, deadline=deadline)
        newest = sorted(self.runs.values(), key=lambda run: run.queued_at, reverse=True)
        shown.compared = [
            next(run for run in newest if run.setup == setup and finished(run))
            for setup in SETUPS
            if any(run.setup == setup and finished(run) for run in newest)
        ]
        return shown


def task_apply(run: RoutingRun, event: dict) -> None:
    label, step, t = event.get("task"), event.get("step"), event.get("t")
    if label not in TASK_LABELS or step not in STEPS or not isinstance(t, int):
        return
    row = run.tasks.setdefault(label, TaskRow(label=label))
    setattr(row, f"{step}_t", t)
    if step == "finished":
        row.queue = str(event.get("queue", ""))[:40]
        wait = event.get("wait_ms")
        row.wait_ms = max(0, wait) if isinstance(wait, int) else None


def wait_in_slow_tasks(wait_ms: int) -> str:
    """The outcome a fast task's wait stands for: nearest to 0, 1, 2 or 4 slow tasks."""
    slow_ms = SLOW_SECONDS * 1000
    if wait_ms < slow_ms / 2:
        return "none"
    if wait_ms < slow_ms * 1.5:
        return "one"
    return "two" if wait_ms < slow_ms * 3 else "four"


def finished(run: RoutingRun) -> bool:
    return run.status == "succeeded" and run.all_finished


def ran_both_setups(runs: list[RoutingRun]) -> bool:
    return {run.setup for run in runs if finished(run)} >= set(SETUPS)
