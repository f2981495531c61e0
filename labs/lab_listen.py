"""The "blocking listen() trap" lab: three ways to consume a channel, run side by side.

A Celery task (``listen_trap_execute``) starts the sandbox ``labs/sandbox/listen_trap.py`` with
subprocess, in a process group of its own, with nothing of the site's environment but the Redis
URL. The sandbox answers heartbeat requests every ``HEARTBEAT_MS`` in each of its three modes
(listen(), get_message(timeout=…), a background thread) and prints its timeline as JSON lines.
The task publishes a message on the sandbox's channel at ``PUBLISH_AT_SECONDS`` after it is
ready (a message a second, then a quiet spell, then two more), forwards the timeline to the
page as lab events every ``FLUSH_SECONDS``, and kills the sandbox's process group at
``LIMIT_SECONDS``: like a server, it never ends by itself. The web server only ever reads the
events, so the site never waits on the sandbox.

Events (all with ``lab: "listen"``): ``queued``, ``started`` (the worker), ``timeline`` (a batch
of the sandbox's points, and the task's own ``published`` and ``killed`` points), then
``succeeded`` or ``failed``; and ``predicted`` before a run.
"""

import contextlib
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest
from learnsite.redis import redis_client

from .events import event_publish, events_read
from .lab_pubsub import CHANNEL_PREFIX
from .predictions import PredictionPairing, Runs
from .runs import WAITING_HINT_AFTER_SECONDS
from .services import BROKER_DOWN, BrokerUnavailable, LabError, lab_run_start

LAB = "listen"
TEMPLATE = "labs/listen.html"
SANDBOX = Path(__file__).resolve().parent / "sandbox" / "listen_trap.py"

# The hard limit: the task kills the sandbox's process group this long after starting it.
LIMIT_SECONDS = 10
HEARTBEAT_MS = 200
# When the task publishes, in seconds after the sandbox is ready: none from 3 to 7.
PUBLISH_AT_SECONDS = (1, 2, 3, 7, 8)
READY_TIMEOUT_SECONDS = 5
FLUSH_SECONDS = 0.5
# The sandbox's own alarm, should the task die before it kills the sandbox.
BACKSTOP_SECONDS = LIMIT_SECONDS + 20
# What is read from the sandbox at most; the rest is drained and dropped.
POINTS_MAX = 2000
OUTPUT_LINES_KEPT = 20
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
POINT_KINDS = {"start", "ready", "asked", "answered", "received", "error"}

# Predict, then observe: which ways kept answering their heartbeats all along. A lesson's
# 'predict' question maps each of its options to one of these codes ('observes:').
OUTCOMES = {
    "all": "All three",
    "not-listen": "get_message(timeout=…) and the background thread, not listen()",
    "thread": "Only the background thread",
    "none": "None of the three",
}
_OBSERVED = {
    frozenset(MODES): "all",
    frozenset({"get_message", "thread"}): "not-listen",
    frozenset({"thread"}): "thread",
    frozenset(): "none",
}


def sandbox_channel(learner_id: str, run_id: str) -> str:
    # Outside the event hub's pattern (see lab_pubsub), so PUBLISH counts the sandbox only.
    return f"{CHANNEL_PREFIX}{learner_id}:listen:{run_id}"


# Starting a run, and the worker's side.


def listen_run_start(*, learner_id: str) -> str:
    """Queue a sandbox run for the learner (one at a time); returns the run id."""
    try:
        events = events_read(learner_id=learner_id, lab=LAB)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    if any(run.active for run in listen_runs_fold(events, now=time.time())):
        raise LabError("Your sandbox is still running: watch it end first.")
    from .tasks import listen_trap  # imported here: labs.tasks imports this module

    return lab_run_start(learner_id=learner_id, lab=LAB, task=listen_trap)


def _sandbox_env() -> dict:
    """Nothing of the worker's environment (no secrets, no database) but the Redis URL."""
    return {
        "LISTEN_TRAP_REDIS_URL": settings.REDIS_URL,
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
    }


def _pipe_lines(pipe, lines: queue.Queue) -> None:
    for raw in pipe:
        lines.put(raw)
    lines.put(None)


def _point(raw: bytes) -> dict | None:
    """One line of the sandbox's timeline, with only the fields the page uses; None if not."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(line, dict) or line.get("kind") not in POINT_KINDS:
        return None
    if not isinstance(line.get("t"), int):
        return None
    point = {"t": line["t"], "kind": line["kind"]}
    if line.get("mode") in MODES:
        point["mode"] = line["mode"]
    for name in ("seq", "asked", "pid"):
        if isinstance(line.get(name), int):
            point[name] = line[name]
    for name, limit in (("data", 100), ("error", 300)):
        if isinstance(line.get(name), str):
            point[name] = line[name][:limit]
    return point


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the sandbox leads its own group
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _gone(pid: int) -> bool:
    """True when neither the process nor any process of its group is left."""
    for check in (os.kill, os.killpg):
        try:
            check(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return False
        return False
    return True


def listen_trap_execute(*, learner_id: str, run_id: str, worker: str) -> dict:
    """Run the sandbox for LIMIT_SECONDS, publish to it, stream its timeline, then kill it."""
    base = {"run": run_id, "lab": LAB}
    event_publish(
        learner_id=learner_id, lab=LAB, event={**base, "kind": "started", "worker": worker}
    )
    channel = sandbox_channel(learner_id, run_id)
    argv = [
        sys.executable, "-I", str(SANDBOX), "--channel", channel,
        "--heartbeat-ms", str(HEARTBEAT_MS), "--max-seconds", str(BACKSTOP_SECONDS),
    ]  # fmt: skip
    # Our own program with a fixed argv: nothing in it comes from the learner.
    process = subprocess.Popen(  # noqa: S603
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=_sandbox_env(), cwd=SANDBOX.parent, start_new_session=True,
    )  # fmt: skip
    started = time.monotonic()
    kill_at = started + LIMIT_SECONDS
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pipe_lines, args=(process.stdout, lines), daemon=True).start()
    batch: list[dict] = []
    output: list[str] = []
    state = {"ready_at": None, "ready_t": 0, "published": 0, "points": 0, "ended": False}

    def sandbox_t(now: float) -> int:
        """A time of the task's clock on the sandbox's (ms since it started)."""
        return state["ready_t"] + round((now - state["ready_at"]) * 1000)

    def take(raw: bytes) -> None:
        point = _point(raw)
        if point is None:
            if len(output) < OUTPUT_LINES_KEPT:
                output.append(raw.decode(errors="replace").rstrip()[:300])
            return
        if state["points"] >= POINTS_MAX:
            return
        state["points"] += 1
        batch.append(point)
        if point["kind"] == "ready":
            state["ready_at"], state["ready_t"] = time.monotonic(), point["t"]

    def flush() -> None:
        if batch:
            event_publish(
                learner_id=learner_id,
                lab=LAB,
                event={**base, "kind": "timeline", "points": batch[:]},
            )
            batch.clear()

    failure, flushed = "", started
    try:
        while True:
            now = time.monotonic()
            if now >= kill_at:
                break
            ready_at = state["ready_at"]
            if ready_at is None and now - started > READY_TIMEOUT_SECONDS:
                failure = "The sandbox did not subscribe to its channel in time."
                break
            due = None
            if ready_at is not None and state["published"] < len(PUBLISH_AT_SECONDS):
                due = ready_at + PUBLISH_AT_SECONDS[state["published"]]
                if now >= due:
                    state["published"] += 1
                    data = f"message {state['published']}"
                    receivers = redis_client().publish(channel, data)
                    point = {"t": sandbox_t(now), "kind": "published", "data": data}
                    batch.append(point | {"receivers": receivers})
                    continue
            if now - flushed >= FLUSH_SECONDS:
                flush()
                flushed = now
            wake = min(t for t in (kill_at, due, flushed + FLUSH_SECONDS) if t is not None)
            try:
                raw = lines.get(timeout=max(0.01, wake - now))
            except queue.Empty:
                continue
            if raw is None:
                state["ended"] = True
                break
            take(raw)
    finally:
        killed = time.monotonic()
        _kill_group(process)
    while True:  # what the sandbox printed before it was killed
        try:
            raw = lines.get(timeout=2)
        except queue.Empty:
            break
        if raw is None:
            break
        take(raw)
    gone = _gone(process.pid)
    end_t = sandbox_t(killed) if state["ready_at"] else round((killed - started) * 1000)
    killed_point = {"pid": process.pid, "gone": gone, "limit_seconds": LIMIT_SECONDS}
    batch.append({"t": end_t, "kind": "killed", **killed_point})
    flush()
    if state["ended"] and not failure:
        failure = "The sandbox ended before its time limit."
    if failure:
        error = " ".join([failure, *output[-3:]])
        event_publish(
            learner_id=learner_id, lab=LAB, event={**base, "kind": "failed", "error": error}
        )
        return {"failed": failure, "pid": process.pid, "gone": gone}
    result = {
        "pid": process.pid,
        "returncode": process.returncode,
        "gone": gone,
        "limit_seconds": LIMIT_SECONDS,
        "worker": worker,
    }
    event_publish(
        learner_id=learner_id, lab=LAB, event={**base, "kind": "succeeded", "result": result}
    )
    return result


# Runs, as the page shows them.


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
}


@dataclass
class ListenRun:
    id: str
    queued_at: float
    status: str = "queued"
    worker: str = ""
    points: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    error: str = ""
    waiting: bool = False
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


RUNS_SHOWN = 3


def listen_observed(run: ListenRun) -> str | None:
    """Which ways kept answering all along, once the run has been killed at its limit; None
    for a run that fits none of the outcomes."""
    if run.status != "succeeded":
        return None
    _summarize(run)  # all its points are in: the last batch comes before "succeeded"
    return _OBSERVED.get(run.kept_answering)


def listen_runs_fold(events: list[tuple[str, dict]], *, now: float) -> Runs:
    runs: dict[str, ListenRun] = {}
    pairing = PredictionPairing()
    for _event_id, event in events:
        kind, run_id = event.get("kind"), event.get("run")
        if pairing.take(event) or not run_id:
            continue
        run = runs.get(run_id)
        if run is None:
            if kind != "queued":
                continue  # its start fell out of the capped event stream
            run = runs[run_id] = ListenRun(id=run_id, queued_at=event.get("at", 0.0))
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
        if status in STATUS and STATUS[status][0] >= STATUS[run.status][0]:
            run.status = status
        pairing.seen(run)
    for run in runs.values():
        run.waiting = run.status == "queued" and now - run.queued_at >= WAITING_HINT_AFTER_SECONDS
        _summarize(run)
    newest = sorted(runs.values(), key=lambda run: run.queued_at, reverse=True)
    shown = Runs(newest[:RUNS_SHOWN])
    shown.prediction = pairing.latest
    return shown


def _summarize(run: ListenRun) -> None:
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


# Views. labs.views imports the registry, and the registry imports this module's fold, so the
# view helpers are looked up when a view runs (workers import this module, never views).


def _lab_views():
    from . import views

    return views


def _page_context() -> dict:
    return {
        "limit_seconds": LIMIT_SECONDS,
        "heartbeat_ms": HEARTBEAT_MS,
        "publish_at": PUBLISH_AT_SECONDS,
        "frozen_gap_ms": FROZEN_GAP_MS,
    }


def _answer(request: HtmxHttpRequest, context: dict | None = None, *,
            error: LabError | None = None) -> HttpResponse:  # fmt: skip
    if not request.htmx:
        if error is not None:
            return _lab_views().lab_page(request, LAB, context=_page_context(), error=error)
        return redirect("labs:listen")
    context = (context or {}) | {"error": error}
    return render(request, f"{TEMPLATE}#result", context, status=error.status if error else 200)


@require_GET
def listen_lab(request: HtmxHttpRequest) -> HttpResponse:
    return _lab_views().lab_page(request, LAB, context=_page_context())


@require_POST
def listen_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = listen_run_start(learner_id=learner_id_for(request))
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"run_id": run_id})
