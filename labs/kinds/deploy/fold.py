"""The deploy lab, as the page shows it: a worker stopped mid-task three ways, and where each of
its three tasks went.

Events (all with ``lab: "deploy"``): ``queued`` (its options: which task is ``late``, i.e.
acks_late, and how the worker is ``stop``-ped), ``started`` (the site's worker), ``step``
(``what`` happened in the run, at ``t`` ms since it started: ``old-up``, ``sent``, ``stop``,
``old-exited``, ``snapshot``, ``new-up``, ``acl``), ``log`` (lines of the program's own list
``log``: a task started or finished, by the old or the new worker), then ``succeeded`` or
``failed``; and ``predicted`` before a run. Everything here is a pure function of those events.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run

TASKS = ("A", "B", "C")
TASK_SECONDS = 2
# How far into the first task the worker is stopped.
STOP_AFTER_SECONDS = 1
VISIBILITY_TIMEOUT_SECONDS = 6
LATE_CHOICES = {
    "A": "A, the task running at the stop",
    "B": "B, the task waiting next",
    "none": "none of them",
}
STOPS = {
    "warm": ("Warm", "SIGTERM"),
    "cold": ("Cold", "SIGQUIT"),
    "kill": ("Killed", "SIGKILL"),
}

# Where a task went, once the old worker is gone.
FATES = {
    "before": "Finished by the old worker before the stop",
    "warm": "Finished by the old worker during its warm shutdown",
    "restored": "Put back on the queue at shutdown, run by the new worker",
    "waited": "Never taken by the old worker: waited in the queue, run by the new worker",
    "visibility": "Left in unacked: back on the queue after the visibility timeout",
    "lost": "Lost: acknowledged, then cut off. Nothing brings it back",
}
# The prediction's outcomes: what becomes of task A, acks_late, on a cold shutdown.
_OBSERVED = {
    "before": "finished",
    "warm": "finished",
    "restored": "restored",
    "visibility": "visibility",
    "lost": "lost",
}

STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Starting Redis and the old worker"),
    "running": (2, "The old worker runs the tasks"),
    "stopping": (3, "Stopping the old worker"),
    "replacing": (4, "The new worker takes over"),
    "succeeded": (5, "Done"),
    "failed": (5, "Failed"),
    "lost": (5, "Lost"),
}
STEP_STATUS = {
    "old-up": "running",
    "sent": "running",
    "stop": "stopping",
    "old-exited": "stopping",
    "snapshot": "stopping",
    "new-up": "replacing",
}
STEP_LABELS = {
    "redis": "Its own Redis started",
    "old-up": "The old worker answers (prefork, concurrency 1)",
    "sent": "Sent A, B and C",
    "running": "The old worker started A",
    "stop": "Sent the stop signal",
    "old-exited": "The old worker exited",
    "snapshot": "Read Redis with no worker running",
    "new-up": "The new worker answers",
    "acl": "Tried three commands as a limited ACL user",
}


@dataclass
class TaskFate:
    name: str
    late: bool
    fate: str = ""  # a FATES code, once Redis was read after the stop
    old_started: int | None = None  # ms since the run started
    old_finished: int | None = None
    new_started: int | None = None
    new_finished: int | None = None
    back_at: int | None = None  # when the visibility timeout would bring it back

    @property
    def fate_label(self) -> str:
        return FATES.get(self.fate, "")

    @property
    def done(self) -> bool:
        return self.old_finished is not None or self.new_finished is not None


@dataclass
class DeployRun(Run):
    late: str = ""
    stop: str = ""
    worker: str = ""
    error: str = ""
    steps: list[dict] = field(default_factory=list)
    tasks: dict[str, TaskFate] = field(default_factory=dict)
    stop_at: int | None = None
    new_up_at: int | None = None
    exit_code: int | None = None
    queue_after: list[str] = field(default_factory=list)
    unacked_after: list[str] = field(default_factory=list)
    acl: list[dict] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status not in {"succeeded", "failed", "lost"}

    @property
    def stop_label(self) -> str:
        how, signal = STOPS.get(self.stop, ("", ""))
        return f"{how} ({signal})" if how else ""

    @property
    def late_label(self) -> str:
        return LATE_CHOICES.get(self.late, "")

    @property
    def task_list(self) -> list[TaskFate]:
        return [self.tasks[name] for name in TASKS if name in self.tasks]

    @property
    def chart(self) -> "DeployChart | None":
        return deploy_chart(self) if self.stop_at is not None else None


class DeployFold(LabFold):
    run_type = DeployRun
    runs_shown = 3
    status_rank = {status: rank for status, (rank, _) in STATUS.items()}
    outcomes = {
        "finished": "The old worker finishes it before it exits",
        "restored": "It goes back on the queue at once and the new worker runs it",
        "visibility": "It comes back only after the visibility timeout",
        "lost": "It is lost",
    }

    def apply(self, event_id: str, event: dict) -> Iterable[DeployRun]:
        kind, run = event.get("kind"), self.run_begun(event)
        if run is None:
            return []
        status = kind
        if kind == "queued":
            options = event.get("options") or {}
            run.late, run.stop = options.get("late", ""), options.get("stop", "")
            run.tasks = {name: TaskFate(name=name, late=name == run.late) for name in TASKS}
        elif kind == "started":
            run.worker = event.get("worker", "")
        elif kind == "step":
            status = _step(run, event)
        elif kind == "log":
            _log(run, event.get("entries", []))
            status = ""
        elif kind == "failed":
            run.error = event.get("error", "")
        if status in self.status_rank:
            self.advance(run, status)
        return [run]

    def observed(self, run: DeployRun) -> str | None:
        """What became of A, acks_late, in a finished run that stopped its worker cold."""
        if run.status != "succeeded" or run.stop != "cold" or run.late != "A":
            return None
        task = run.tasks.get("A")
        return _OBSERVED.get(task.fate) if task else None


def _step(run: DeployRun, event: dict) -> str:
    what, t = event.get("what", ""), event.get("t")
    if what not in STEP_LABELS or not isinstance(t, int):
        return ""
    run.steps.append({"what": what, "t": t, "label": STEP_LABELS[what]})
    if what == "stop":
        run.stop_at = t
    elif what == "old-exited":
        run.exit_code = event.get("code")
    elif what == "snapshot":
        run.queue_after = [n for n in event.get("queue", []) if n in run.tasks]
        run.unacked_after = [n for n in event.get("unacked", []) if n in run.tasks]
        redelivered = set(event.get("redelivered", []))
        back_at = event.get("back_at", {})
        for task in run.tasks.values():
            task.fate = _fate(run, task, redelivered=task.name in redelivered)
            if task.fate == "visibility" and isinstance(back_at.get(task.name), int):
                task.back_at = back_at[task.name]
    elif what == "new-up":
        run.new_up_at = t
    elif what == "acl":
        run.acl = [c for c in event.get("checks", []) if isinstance(c, dict)]
    return STEP_STATUS.get(what, "")


def _fate(run: DeployRun, task: TaskFate, *, redelivered: bool) -> str:
    if task.old_finished is not None:
        return "before" if run.stop_at is None or task.old_finished < run.stop_at else "warm"
    if task.name in run.unacked_after:
        return "visibility"
    if task.name in run.queue_after:
        return "restored" if redelivered else "waited"
    return "lost"


def _log(run: DeployRun, entries: list) -> None:
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("task") not in run.tasks:
            continue
        task, t = run.tasks[entry["task"]], entry.get("t")
        if not isinstance(t, int):
            continue
        who, what = entry.get("worker"), entry.get("event")
        if who in {"old", "new"} and what in {"started", "finished"}:
            setattr(task, f"{who}_{what}", t)


def stopped_three_ways(runs: list[DeployRun]) -> bool:
    return {"warm", "cold", "kill"} <= {run.stop for run in runs if run.status == "succeeded"}


# The chart: each task's time on the old and the new worker, as SVG bars on one time axis.


@dataclass(frozen=True)
class ChartBar:
    x: int
    width: int
    worker: str  # "old" or "new"
    cut: bool  # the old worker stopped it before it finished
    title: str


@dataclass(frozen=True)
class ChartRow:
    name: str
    y: int
    bars: list[ChartBar]


@dataclass(frozen=True)
class ChartMark:
    x: int
    label: str


@dataclass(frozen=True)
class DeployChart:
    width: int
    height: int
    plot_x: int
    plot_right: int
    row_height: int
    axis_y: int
    rows: list[ChartRow]
    marks: list[ChartMark]
    ticks: list[ChartMark]
    description: str


CHART_WIDTH, PLOT_X, PLOT_RIGHT = 640, 40, 616
CHART_TOP, ROW_HEIGHT, ROW_SPACE = 24, 24, 32


def deploy_chart(run: DeployRun) -> DeployChart:
    times = [
        t
        for task in run.tasks.values()
        for t in (task.old_started, task.old_finished, task.new_started, task.new_finished)
        if t is not None
    ] + [t for t in (run.stop_at, run.new_up_at) if t is not None]
    start = min(times)
    span = max(max(times) - start, 1000)

    def x(t: int) -> int:
        return PLOT_X + round((t - start) * (PLOT_RIGHT - PLOT_X) / span)

    rows, described = [], []
    for index, task in enumerate(run.task_list):
        bars = []
        if task.old_started is not None:
            end = task.old_finished if task.old_finished is not None else run.stop_at
            cut = task.old_finished is None
            bars.append(_bar(x, task.old_started, end, "old", cut))
        if task.new_started is not None:
            end = task.new_finished if task.new_finished is not None else max(times)
            bars.append(_bar(x, task.new_started, end, "new", False))
        rows.append(ChartRow(name=task.name, y=CHART_TOP + index * ROW_SPACE, bars=bars))
        described.append(f"{task.name}: {task.fate_label or 'not known yet'}.")
    marks = [ChartMark(x=x(run.stop_at), label="stop")]
    if run.new_up_at is not None:
        marks.append(ChartMark(x=x(run.new_up_at), label="new"))
    axis_y = CHART_TOP + len(rows) * ROW_SPACE
    ticks = [
        ChartMark(x=x(start + s * 1000), label=f"{s} s") for s in range(0, span // 1000 + 1, 2)
    ]
    return DeployChart(
        width=CHART_WIDTH,
        height=axis_y + 24,
        plot_x=PLOT_X,
        plot_right=PLOT_RIGHT,
        row_height=ROW_HEIGHT,
        axis_y=axis_y,
        rows=rows,
        marks=marks,
        ticks=ticks,
        description=" ".join(described),
    )


def _bar(x, begin: int, end: int, worker: str, cut: bool) -> ChartBar:
    seconds = (end - begin) / 1000
    what = "cut off after" if cut else "ran"
    title = f"{worker} worker: {what} {seconds:.1f} s"
    return ChartBar(
        x=x(begin), width=max(2, x(end) - x(begin)), worker=worker, cut=cut, title=title
    )
