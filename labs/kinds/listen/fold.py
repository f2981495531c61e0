"""The blocking listen() trap, as the page shows it: each sandbox run's timeline folded into
numbers per way of consuming the channel, and a chart.

Events (all with ``lab: "listen"``): ``queued``, ``started`` (the worker), ``timeline`` (a batch
of the sandbox's points, and the task's own ``published`` and ``killed`` points), then
``succeeded`` or ``failed``; and ``predicted`` before a run. Everything here is a pure function
of those events.
"""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run, Runs

# The hard limit: the task kills the sandbox's process group this long after starting it.
LIMIT_SECONDS = 10
HEARTBEAT_MS = 200
# When the task publishes, in seconds after the sandbox is ready: none from 3 to 7.
PUBLISH_AT_SECONDS = (1, 2, 3, 7, 8)
# A mode that answered nothing for this long (four heartbeats missed in a row) froze. Not a
# round second: listen()'s gaps between messages, a second apart, must not sit on the line.
FROZEN_GAP_MS = 4 * HEARTBEAT_MS

MODES = ("listen", "get_message", "thread")
MODE_LABELS = {
    "listen": "listen()",
    "get_message": "get_message(timeout=0.1)",
    "thread": "run_in_thread()",
}
CHART_LABELS = {"listen": "listen()", "get_message": "get_message()", "thread": "run_in_thread()"}

_OBSERVED = {
    frozenset(MODES): "all",
    frozenset({"get_message", "thread"}): "not-listen",
    frozenset({"thread"}): "thread",
    frozenset(): "none",
}


@dataclass
class ModeSummary:
    mode: str
    label: str
    asked: int
    answered: int
    received: int
    longest_gap_ms: int  # the longest time without answering any request
    worst_wait_ms: int  # the longest a request waited for its answer (or has waited, unanswered)
    beats: list[int] = field(default_factory=list)  # when it answered, ms
    messages: list[int] = field(default_factory=list)  # when it received a message, ms
    silences: list[tuple[int, int]] = field(default_factory=list)  # gaps of FROZEN_GAP_MS or more

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered

    @property
    def kept_answering(self) -> bool:
        return self.asked > 0 and self.longest_gap_ms < FROZEN_GAP_MS


STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Starting the sandbox"),
    "running": (2, "Running"),
    "succeeded": (3, "Killed at its limit"),
    "failed": (3, "Failed"),
    "lost": (3, "Lost"),
}


@dataclass
class ListenRun(Run):
    worker: str = ""
    points: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    error: str = ""
    modes: list[ModeSummary] = field(default_factory=list)
    chart: "ListenChart | None" = None
    end_ms: int = 0
    pid: int | None = None

    @property
    def status_label(self) -> str:
        return STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "running"}

    @property
    def published(self) -> list[dict]:
        return [point for point in self.points if point["kind"] == "published"]

    @property
    def killed(self) -> dict | None:
        return next((p for p in self.points if p["kind"] == "killed"), None)

    @property
    def sandbox_errors(self) -> list[dict]:
        return [point for point in self.points if point["kind"] == "error"]

    @property
    def kept_answering(self) -> frozenset[str]:
        return frozenset(summary.mode for summary in self.modes if summary.kept_answering)

    @property
    def shows_the_freeze(self) -> bool:
        """The lesson's point, seen: listen() stopped answering while another mode kept on."""
        return (
            self.status == "succeeded"
            and "listen" not in self.kept_answering
            and bool(self.kept_answering)
        )


class ListenFold(LabFold):
    run_type = ListenRun
    runs_shown = 3
    status_rank = {status: rank for status, (rank, _) in STATUS.items()}
    # Predict, then observe: which ways kept answering their heartbeats all along. A lesson's
    # 'predict' question maps each of its options to one of these codes ('observes:').
    outcomes = {
        "all": "All three",
        "not-listen": "get_message(timeout=…) and the background thread, not listen()",
        "thread": "Only the background thread",
        "none": "None of the three",
    }

    def apply(self, event_id: str, event: dict) -> Iterable[ListenRun]:
        kind, run = event.get("kind"), self.run_begun(event)
        if run is None:
            return []
        status = kind
        if kind == "started":
            run.worker = event.get("worker", "")
        elif kind == "timeline":
            points = [p for p in event.get("points", []) if isinstance(p, dict)]
            run.points.extend(points)
            started = any(p.get("kind") in {"ready", "asked"} for p in run.points)
            status = "running" if started else "started"
        elif kind == "succeeded":
            run.result = event.get("result", {})
        elif kind == "failed":
            run.error = event.get("error", "")
        if status in self.status_rank:
            self.advance(run, status)
        return [run]

    def observed(self, run: ListenRun) -> str | None:
        """Which ways kept answering all along, once the run has been killed at its limit; None
        for a run that fits none of the outcomes."""
        if run.status != "succeeded":
            return None
        summarize(run)  # all its points are in: the last batch comes before "succeeded"
        return _OBSERVED.get(run.kept_answering)

    def result(self, *, now: float, deadline: float | None = None) -> Runs:
        shown = super().result(now=now, deadline=deadline)
        for run in shown:
            summarize(run)
        return shown


def saw_the_freeze(runs: list[ListenRun]) -> bool:
    return any(run.shows_the_freeze for run in runs)


def summarize(run: ListenRun) -> None:
    """Each mode's numbers and the chart, from the run's points (a pure function of them)."""
    points = [p for p in run.points if isinstance(p.get("t"), int)]
    if not points:
        return
    asked = {p["seq"]: p["t"] for p in points if p["kind"] == "asked" and "seq" in p}
    killed = run.killed
    run.end_ms = killed["t"] if killed else max(p["t"] for p in points)
    run.pid = (
        killed.get("pid")
        if killed
        else next((p.get("pid") for p in points if p["kind"] == "start"), None)
    )
    first_ask = min(asked.values(), default=None)
    run.modes = []
    for mode in MODES:
        answers = [p for p in points if p["kind"] == "answered" and p.get("mode") == mode]
        beats = sorted(p["t"] for p in answers)
        answered = {p.get("seq") for p in answers}
        waits = [p["t"] - p.get("asked", p["t"]) for p in answers]
        waits += [run.end_ms - t for seq, t in asked.items() if seq not in answered]
        marks = ([first_ask] if first_ask is not None else []) + beats + [run.end_ms]
        gaps = list(itertools.pairwise(marks))
        run.modes.append(
            ModeSummary(
                mode=mode,
                label=MODE_LABELS[mode],
                asked=len(asked),
                answered=len(answered & set(asked)),
                received=sum(
                    1 for p in points if p["kind"] == "received" and p.get("mode") == mode
                ),
                longest_gap_ms=max((b - a for a, b in gaps), default=0),
                worst_wait_ms=max(waits, default=0),
                beats=beats,
                messages=sorted(
                    p["t"] for p in points if p["kind"] == "received" and p.get("mode") == mode
                ),
                silences=[(a, b) for a, b in gaps if b - a >= FROZEN_GAP_MS],
            )
        )
    run.chart = listen_chart(run)


# The chart: server-rendered SVG in a 640-wide box that scales down to a phone.


@dataclass(frozen=True)
class ChartSilence:
    x: int
    width: int
    title: str


@dataclass(frozen=True)
class ChartRow:
    mode: str
    label: str
    y: int
    beats: list[int]
    messages: list[int]
    silences: list[ChartSilence]


@dataclass(frozen=True)
class ChartMark:
    x: int
    label: str


@dataclass(frozen=True)
class ListenChart:
    width: int
    height: int
    plot_x: int
    plot_right: int
    lane_width: int
    row_height: int
    axis_y: int
    rows: list[ChartRow]
    published: list[ChartMark]
    ticks: list[ChartMark]
    description: str
    frozen_gap_ms: int = FROZEN_GAP_MS


CHART_WIDTH, PLOT_X, PLOT_RIGHT = 640, 120, 616
CHART_TOP, ROW_HEIGHT, ROW_SPACE = 28, 30, 38


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def listen_chart(run: ListenRun) -> ListenChart:
    span = max(run.end_ms, LIMIT_SECONDS * 1000)

    def x(t: int) -> int:
        return PLOT_X + round(max(0, min(t, span)) * (PLOT_RIGHT - PLOT_X) / span)

    rows, described = [], []
    for index, summary in enumerate(run.modes):
        silences = [
            ChartSilence(
                x=x(a), width=max(1, x(b) - x(a)), title=f"no answer for {_seconds(b - a)}"
            )
            for a, b in summary.silences
        ]
        rows.append(
            ChartRow(
                mode=summary.mode,
                label=CHART_LABELS[summary.mode],
                y=CHART_TOP + index * ROW_SPACE,
                beats=[x(t) for t in summary.beats],
                messages=[x(t) for t in summary.messages],
                silences=silences,
            )
        )
        described.append(
            f"{summary.label}: answered {summary.answered} of {summary.asked} heartbeat requests, "
            f"longest time without answering {_seconds(summary.longest_gap_ms)}; "
            f"received {summary.received} messages."
        )
    axis_y = CHART_TOP + len(run.modes) * ROW_SPACE
    published = [ChartMark(x=x(p["t"]), label=f"m{n}") for n, p in enumerate(run.published, 1)]
    ticks = [ChartMark(x=x(s * 1000), label=f"{s} s") for s in range(0, span // 1000 + 1, 2)]
    return ListenChart(
        width=CHART_WIDTH,
        height=axis_y + 24,
        plot_x=PLOT_X,
        plot_right=PLOT_RIGHT,
        lane_width=PLOT_RIGHT - PLOT_X,
        row_height=ROW_HEIGHT,
        axis_y=axis_y,
        rows=rows,
        published=published,
        ticks=ticks,
        description=" ".join(described),
    )
