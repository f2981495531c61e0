"""The "Offload the slow email" lab, as the page shows it: its runs folded from their events,
and the chart that compares the two ways of sending.

A run's events:

- send now (the web request sends): ``sending`` (web), ``delivered`` (mail server),
  ``succeeded`` (web, once the server's reply is back), ``answered`` (web, with the request's
  server time);
- in the background (a worker sends): ``queued`` (web, lab_run_start), ``answered`` (web),
  ``started``, ``succeeded`` (worker) and ``delivered`` (mail server), in whatever order;
- the sender says ``failed`` instead of ``succeeded`` when the mail server does not take it.

Times are measured from the run's first event: when its request reached the server.
"""

from dataclasses import dataclass

from labs.fold import LabFold, Run, Runs, TimelineEntry

MODES = {"sync": "Send now", "background": "In the background"}
CHART_RUNS_PER_MODE = 5

STATUS_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "started": "Sending",
    "succeeded": "Sent",
    "delivered": "Delivered",
    "failed": "Failed",
    "lost": "Lost",
}
LABELS = {
    "queued": "Queued on the broker",
    "sending": "The web request is sending it",
    "answered": "The web request answered the browser",
    "started": "A worker picked it up and is sending it",
    "succeeded": "The sender got the mail server's reply",
    "delivered": "Delivered: the mail server has it",
    "failed": "Failed",
}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class EmailRun(Run):
    mode: str = ""  # "sync" (send now) or "background"
    latency_ms: int = 0
    request_ms: int | None = None  # the server time of the request that started the run
    send_ms: int | None = None  # how long the sender waited for the mail server
    delivered_ms: int | None = None  # when the mail server had it, after the request arrived
    worker: str = ""
    error: str = ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def mode_label(self) -> str:
        return MODES.get(self.mode, "")


class EmailRuns(Runs):
    """The runs shown, newest first, with the chart of the recent runs of both kinds."""

    chart: "EmailChart | None" = None


class EmailFold(LabFold):
    run_type = EmailRun
    runs_type = EmailRuns
    runs_shown = 6
    # Predict, then observe: what the next delivered email's request shows.
    outcomes = {
        "waits": "The request waits for the mail server",
        "returns": "The request returns before the email is sent",
    }
    # Statuses only move forward. An email's "delivered" may come before or after its sender's
    # "succeeded" (the sender got the server's reply).
    status_rank = {
        "queued": 0,
        "sending": 1,
        "started": 1,
        "succeeded": 2,
        "delivered": 3,
        "failed": 3,
    }
    over_statuses = frozenset({"succeeded", "delivered", "failed"})

    def apply(self, event_id: str, event: dict) -> list[EmailRun]:
        kind = event.get("kind")
        if kind not in LABELS or not event.get("run"):
            return []
        run = self.run_for(event)
        offset_ms = _ms(event["at"] - run.queued_at)
        detail = ""
        if kind in {"queued", "sending"}:
            run.mode = "sync" if kind == "sending" else "background"
            run.latency_ms = int(event.get("options", {}).get("latency_ms", 0))
        elif kind == "answered":
            run.request_ms = int(event.get("request_ms", 0))
            detail = f"after {run.request_ms} ms of server time"
        elif kind == "started":
            run.worker = event.get("worker", "")
        elif kind == "succeeded":
            run.send_ms = int(event.get("send_ms", 0))
            detail = f"{run.send_ms} ms after it began sending"
        elif kind == "delivered":
            run.delivered_ms = offset_ms
            detail = f"the server held its reply {event.get('latency_ms', 0)} ms"
        elif kind == "failed":
            run.error = event.get("error", "")
            detail = run.error
        if kind in self.status_rank:  # "answered" says nothing of the email itself
            self.advance(run, kind)
        run.timeline.append(TimelineEntry(kind, LABELS[kind], offset_ms, detail))
        return [run]

    def observed(self, run: EmailRun) -> str | None:
        """Once the email is delivered: did its request wait for the mail server (its server
        time is at least the latency the server held its reply for) or return before?"""
        if run.delivered_ms is None or run.request_ms is None:
            return None
        return "waits" if run.request_ms >= run.latency_ms else "returns"

    def result(self, *, now: float, deadline: float | None = None) -> EmailRuns:
        shown = super().result(now=now, deadline=deadline)
        # The chart takes the recent runs of each kind, shown in the list or not.
        newest_first = sorted(self.runs.values(), key=lambda run: run.queued_at, reverse=True)
        shown.chart = email_chart(newest_first)
        return shown


def compared_both(runs: list[EmailRun]) -> bool:
    """One email sent each way, and both delivered."""
    return {"sync", "background"} <= {run.mode for run in runs if run.status == "delivered"}


# The chart: server-rendered SVG, drawn in a 400-wide box that scales down to a phone.


@dataclass(frozen=True)
class ChartBar:
    css: str  # "bar-request" or "bar-delivery"
    y: int
    width: int  # 0: no bar, only the text
    text: str
    text_x: int


@dataclass(frozen=True)
class ChartRow:
    label: str
    label_y: int
    bars: list[ChartBar]


@dataclass(frozen=True)
class ChartGroup:
    mode: str
    title: str
    title_y: int
    rows: list[ChartRow]


@dataclass(frozen=True)
class ChartTick:
    x: int
    label: str


@dataclass(frozen=True)
class EmailChart:
    width: int
    height: int
    top: int  # where the bars' area starts, under the legend
    bar_x: int
    bar_height: int
    axis_y: int
    groups: list[ChartGroup]
    ticks: list[ChartTick]
    description: str


CHART_WIDTH, BAR_X, BAR_SPACE, BAR_HEIGHT = 400, 76, 256, 12
LEGEND_HEIGHT, GROUP_TITLE_HEIGHT, ROW_HEIGHT, AXIS_HEIGHT = 28, 24, 34, 22


def _bar(*, css: str, y: int, value: int | None, scale: float, missing: str) -> ChartBar:
    if value is None:
        return ChartBar(css=css, y=y, width=0, text=missing, text_x=BAR_X + 4)
    width = max(2, round(value * scale))
    return ChartBar(css=css, y=y, width=width, text=f"{value} ms", text_x=BAR_X + width + 4)


def email_chart(runs: list[EmailRun]) -> EmailChart | None:
    """Request time and time to delivery of the recent runs, grouped by kind (oldest first);
    ``runs`` newest first."""
    by_mode = {
        mode: [run for run in runs if run.mode == mode][:CHART_RUNS_PER_MODE][::-1]
        for mode in MODES
    }
    if not any(by_mode.values()):
        return None
    values = [
        value
        for mode_runs in by_mode.values()
        for run in mode_runs
        for value in (run.request_ms, run.delivered_ms)
        if value is not None
    ]
    scale_max = max(100, -(-max(values, default=0) // 100) * 100)  # rounded up to 100 ms
    scale = BAR_SPACE / scale_max
    y, groups, described = LEGEND_HEIGHT, [], []
    for mode, mode_runs in by_mode.items():
        if not mode_runs:
            continue
        title_y, y = y + 16, y + GROUP_TITLE_HEIGHT
        rows = []
        for run in mode_runs:
            delivery_missing = "failed" if run.status == "failed" else "not yet delivered"
            bars = [
                _bar(css="bar-request", y=y + 3, value=run.request_ms, scale=scale, missing="…"),
                _bar(
                    css="bar-delivery",
                    y=y + 3 + BAR_HEIGHT + 2,
                    value=run.delivered_ms,
                    scale=scale,
                    missing=delivery_missing,
                ),
            ]
            rows.append(ChartRow(label=run.id, label_y=y + 7 + BAR_HEIGHT, bars=bars))
            request = f"{run.request_ms} ms" if run.request_ms is not None else "not answered yet"
            delivered = (
                f"delivered after {run.delivered_ms} ms"
                if run.delivered_ms is not None
                else delivery_missing
            )
            described.append(f"{MODES[mode]}, run {run.id}: request {request}, {delivered}.")
            y += ROW_HEIGHT
        groups.append(ChartGroup(mode=mode, title=MODES[mode], title_y=title_y, rows=rows))
    ticks = [
        ChartTick(x=BAR_X + round(BAR_SPACE * part / 2), label=f"{scale_max * part // 2} ms")
        for part in range(3)
    ]
    return EmailChart(
        width=CHART_WIDTH,
        height=y + AXIS_HEIGHT,
        top=LEGEND_HEIGHT,
        bar_x=BAR_X,
        bar_height=BAR_HEIGHT,
        axis_y=y,
        groups=groups,
        ticks=ticks,
        description=" ".join(described),
    )
