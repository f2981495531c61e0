"""Worker pools, as the page shows them: each run's eight tasks on a time axis, its total time
and how many cores its tasks kept busy, and the runs side by side.

Events (all with ``lab: "pools"``): ``queued`` (with the run's ``options``: pool, concurrency,
workload), ``started`` (the site's worker took the run), ``ready`` (the run's own worker
answered: what ``celery inspect stats`` says of its pool), ``points`` (a batch of the tasks'
``start`` and ``finish`` notes), then ``succeeded`` or ``failed``; and ``predicted`` before a
run. Everything here is a pure function of those events.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run

POOLS = {
    "prefork": "prefork: child processes (Celery's default)",
    "threads": "threads: threads of the worker's one process",
    "solo": "solo: one task at a time, in the worker's main process",
}
CONCURRENCIES = (1, 2, 4, 8)
WORKLOADS = {
    "io": "I/O-bound: each task sleeps 1 s",
    "cpu": "CPU-bound: each task hashes 400,000 times in Python",
}
TASKS = 8
# More than this many cores busy on average over a run: it had several cores at work at once.
# A CPU-bound run on the threads pool cannot pass it (the GIL); prefork can, on 2 idle cores.
SEVERAL_CORES = 1.25

STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Starting its Redis and worker"),
    "ready": (2, "Running"),
    "succeeded": (3, "Done"),
    "failed": (3, "Failed"),
    "lost": (3, "Lost"),
}


@dataclass
class TaskBar:
    """One of the run's tasks: when it started and finished (ms after the tasks were sent) and
    which slot of the pool ran it."""

    number: int
    start_ms: int | None = None
    finish_ms: int | None = None
    pid: int = 0
    thread: str = ""
    cpu_ms: int = 0
    slot: int = 0  # which of the run's slots (PoolsRun.slots) ran it

    @property
    def where(self) -> str:
        if self.thread in {"", "MainThread"}:
            return f"process {self.pid}"
        return f"process {self.pid}, thread {self.thread}"


@dataclass
class PoolsRun(Run):
    # The run's own worker's -P and -c (``pool`` and ``concurrency`` are the site's worker's).
    worker_pool: str = ""
    worker_concurrency: int = 0
    workload: str = ""
    worker: str = ""
    pool_info: dict = field(default_factory=dict)  # the run's worker's `inspect stats` "pool"
    prefetch_count: int | None = None
    start_ms: int = 0  # how long its worker took to start
    bars: dict[int, TaskBar] = field(default_factory=dict)
    # The pool's processes or threads that ran a task, numbered in the order they first did.
    slots: dict[tuple[int, str], int] = field(default_factory=dict)
    total_ms: int | None = None
    error: str = ""

    @property
    def status_label(self) -> str:
        return STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "ready"}

    @property
    def pool_label(self) -> str:
        return POOLS.get(self.worker_pool, self.worker_pool)

    @property
    def workload_label(self) -> str:
        return WORKLOADS.get(self.workload, self.workload)

    @property
    def tasks(self) -> list[TaskBar]:
        return sorted(self.bars.values(), key=lambda bar: bar.number)

    @property
    def slots_used(self) -> int:
        return len(self.slots)

    @property
    def finished(self) -> int:
        return sum(1 for bar in self.bars.values() if bar.finish_ms is not None)

    @property
    def most_at_once(self) -> int:
        """The most tasks that were running at the same moment."""
        edges = []
        for bar in self.bars.values():
            if bar.start_ms is not None:
                edges.append((bar.start_ms, 1))
                edges.append((bar.finish_ms if bar.finish_ms is not None else 10**9, -1))
        running = most = 0
        for _, step in sorted(edges):  # a finish (-1) before a start (+1) at the same ms
            running += step
            most = max(most, running)
        return most

    @property
    def cpu_ms(self) -> int:
        return sum(bar.cpu_ms for bar in self.bars.values())

    @property
    def cores_busy(self) -> float | None:
        """CPU time of the tasks over the run's wall time: the cores they kept busy, on
        average. None until the run is done."""
        if self.status != "succeeded" or not self.total_ms:
            return None
        return self.cpu_ms / self.total_ms

    @property
    def several_cores_busy(self) -> bool:
        """Its tasks had more than one core at work at once, on average (known once done)."""
        return self.cores_busy is not None and self.cores_busy >= SEVERAL_CORES

    @property
    def tasks_sent(self) -> int:
        """How many tasks a run sends: its card says so, on the page and in the stream alike."""
        return TASKS

    @property
    def chart(self) -> "PoolsChart | None":
        return pools_chart(self) if self.bars else None


class PoolsFold(LabFold):
    run_type = PoolsRun
    runs_shown = 6
    status_rank = {status: rank for status, (rank, _) in STATUS.items()}
    # Predict, then observe: answered by the next CPU-bound run on the threads pool.
    outcomes = {
        "one": f"At most one core busy on average (under {SEVERAL_CORES})",
        "several": f"More than one core busy on average ({SEVERAL_CORES} or more)",
    }

    def apply(self, event_id: str, event: dict) -> Iterable[PoolsRun]:
        kind, run = event.get("kind"), self.run_begun(event)
        if run is None:
            return []
        if kind == "queued":
            options = event.get("options") or {}
            run.worker_pool = str(options.get("pool", ""))
            run.worker_concurrency = _int(options.get("concurrency"))
            run.workload = str(options.get("workload", ""))
        elif kind == "started":
            run.worker = str(event.get("worker", ""))
        elif kind == "ready":
            info = event.get("pool")
            run.pool_info = info if isinstance(info, dict) else {}
            run.prefetch_count = event.get("prefetch_count")
            run.start_ms = _int(event.get("start_ms"))
        elif kind == "points":
            points = [p for p in event.get("points") or [] if isinstance(p, dict)]
            # In time order: the tasks' notes reach the list in the order they were pushed.
            for point in sorted(points, key=lambda p: _int(p.get("ms"))):
                _take(run, point)
        elif kind == "succeeded":
            run.total_ms = _int(event.get("total_ms"))
        elif kind == "failed":
            run.error = str(event.get("error", ""))
        if kind in self.status_rank:
            self.advance(run, kind)
        return [run]

    def observed(self, run: PoolsRun) -> str | None:
        """How many cores a finished CPU-bound run on threads kept busy; None for other runs."""
        cores = run.cores_busy
        if run.worker_pool != "threads" or run.workload != "cpu" or cores is None:
            return None
        return "several" if run.several_cores_busy else "one"


def _int(value) -> int:
    return value if isinstance(value, int) else 0


def _take(run: PoolsRun, point: dict) -> None:
    number = point.get("task")
    if not isinstance(number, int) or not 1 <= number <= TASKS:
        return
    bar = run.bars.setdefault(number, TaskBar(number=number))
    bar.pid = _int(point.get("pid")) or bar.pid
    bar.thread = str(point.get("thread", bar.thread))[:40]
    if point.get("event") == "start":
        bar.start_ms = _int(point.get("ms"))
        bar.slot = run.slots.setdefault((bar.pid, bar.thread), len(run.slots) + 1)
    elif point.get("event") == "finish":
        bar.finish_ms = _int(point.get("ms"))
        bar.cpu_ms = _int(point.get("cpu_ms"))


# Goals, from the learner's recent runs.


def _done(runs: list, pool: str, workload: str, at_least: int = 1) -> bool:
    return any(
        run.status == "succeeded"
        and run.worker_pool == pool
        and run.workload == workload
        and run.worker_concurrency >= at_least
        for run in runs
    )


def compared_cpu_pools(runs: list) -> bool:
    """A CPU-bound run on threads and one on prefork with 2 processes or more."""
    return _done(runs, "threads", "cpu", 2) and _done(runs, "prefork", "cpu", 2)


def compared_workloads(runs: list) -> bool:
    """The I/O-bound and the CPU-bound workload, on the same pool."""
    return any(_done(runs, pool, "io") and _done(runs, pool, "cpu") for pool in POOLS)


# The chart: server-rendered SVG (no inline style: the CSP), a row per task on a time axis.


@dataclass(frozen=True)
class ChartBar:
    number: int
    y: int
    x: int
    width: int
    slot: int
    running: bool
    title: str


@dataclass(frozen=True)
class ChartTick:
    x: int
    label: str


@dataclass(frozen=True)
class PoolsChart:
    width: int
    height: int
    plot_x: int
    plot_right: int
    bar_height: int
    axis_y: int
    bars: list[ChartBar]
    ticks: list[ChartTick]
    description: str


CHART_WIDTH, PLOT_X, PLOT_RIGHT = 560, 64, 544
CHART_TOP, BAR_HEIGHT, ROW_SPACE = 8, 18, 24


def pools_chart(run: PoolsRun) -> PoolsChart:
    tasks = run.tasks
    ends = [t for bar in tasks for t in (bar.start_ms, bar.finish_ms) if t is not None]
    span = max([run.total_ms or 0, *ends, 1000])
    step = 1000 if span <= 10_000 else 2000

    def x(ms: int) -> int:
        return PLOT_X + round(max(0, min(ms, span)) * (PLOT_RIGHT - PLOT_X) / span)

    bars, described = [], []
    for index, bar in enumerate(tasks):
        if bar.start_ms is None:
            continue
        end = bar.finish_ms if bar.finish_ms is not None else max(ends)
        done = bar.finish_ms is not None
        took = f"took {(end - bar.start_ms) / 1000:.2f} s" if done else "still running"
        title = (
            f"Task {bar.number}: started at {bar.start_ms / 1000:.2f} s, {took}, "
            f"slot {bar.slot} ({bar.where})"
        )
        bars.append(
            ChartBar(
                number=bar.number,
                y=CHART_TOP + index * ROW_SPACE,
                x=x(bar.start_ms),
                width=max(2, x(end) - x(bar.start_ms)),
                slot=bar.slot,
                running=not done,
                title=title,
            )
        )
        described.append(title + ".")
    axis_y = CHART_TOP + len(tasks) * ROW_SPACE
    ticks = [ChartTick(x=x(ms), label=f"{ms // 1000} s") for ms in range(0, span + 1, step)]
    return PoolsChart(
        width=CHART_WIDTH,
        height=axis_y + 22,
        plot_x=PLOT_X,
        plot_right=PLOT_RIGHT,
        bar_height=BAR_HEIGHT,
        axis_y=axis_y,
        bars=bars,
        ticks=ticks,
        description=" ".join(described),
    )
