"""The "Offload the slow email" lab: send an email inside the web request, or hand it to a worker.

Both ways send a real email through Django's mail API to the labs' SMTP server on loopback
(labs/mail_server.py), which holds its reply for the latency the learner picks. A run's events:

- send now (the web request sends): ``sending`` (web), ``delivered`` (mail server),
  ``succeeded`` (web, once the server's reply is back), ``answered`` (web, with the request's
  server time);
- in the background (a worker sends): ``queued`` (web, lab_run_start), ``answered`` (web),
  ``started``, ``succeeded`` (worker) and ``delivered`` (mail server), in whatever order;
- the sender says ``failed`` instead of ``succeeded`` when the mail server does not take it.
  (``succeeded`` and ``failed`` end a run for every lab: the limit on runs in flight counts on
  them, labs/services.py.)

Times are measured from the run's first event: when its request reached the server.
"""

import contextlib
import secrets
import smtplib
import time
from dataclasses import dataclass, field

from django.core.mail import EmailMessage
from redis.exceptions import RedisError

from .events import event_publish
from .mail_server import LAB_HEADER, LATENCY_HEADER, LEARNER_HEADER, RUN_HEADER
from .predictions import PredictionPairing, Runs
from .runs import WAITING_HINT_AFTER_SECONDS, TimelineEntry
from .services import BROKER_DOWN, BrokerUnavailable, LabError, lab_rate_check

LAB = "email"

# Predict, then observe: what the next delivered email's request shows. A lesson's 'predict'
# question maps each of its options to one of these codes ('observes:').
OUTCOMES = {
    "waits": "The request waits for the mail server",
    "returns": "The request returns before the email is sent",
}
LATENCY_MIN_MS, LATENCY_MAX_MS, LATENCY_DEFAULT_MS = 100, 500, 300
LATENCY_INVALID = (
    "Set the mail server's latency to a whole number of milliseconds from "
    f"{LATENCY_MIN_MS} to {LATENCY_MAX_MS}. Nothing was sent."
)
RECIPIENT = "learner@lab-mail.localhost"
RUNS_SHOWN = 6
CHART_RUNS_PER_MODE = 5

MODES = {"sync": "Send now", "background": "In the background"}
# Statuses only move forward. An email's "delivered" may come before or after its sender's
# "succeeded" (the sender got the server's reply).
STATUS_RANK = {"queued": 0, "sending": 1, "started": 1, "succeeded": 2, "delivered": 3, "failed": 3}
STATUS_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "started": "Sending",
    "succeeded": "Sent",
    "delivered": "Delivered",
    "failed": "Failed",
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


class MailServerUnavailable(LabError):
    status = 503

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass(frozen=True)
class EmailSent:
    run_id: str
    send_ms: int


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _mail_failure(error: OSError) -> str:
    """What went wrong, in words a learner can act on."""
    if isinstance(error, ConnectionRefusedError):
        return "the mail server refused the connection: it is not running"
    # smtplib reports a reply that timed out as a disconnection, caused by the timeout.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        return "the mail server did not answer in time"
    return f"the mail server failed: {error}"


def email_send(*, learner_id: str, run_id: str, latency_ms: int) -> int:
    """Send the run's email through Django's mail API; returns the milliseconds it took.

    Raises OSError (smtplib.SMTPException is one) when the mail server does not take it.
    """
    message = EmailMessage(
        subject=f"Lab run {run_id}",
        body=f"An email from the 'Offload the slow email' lab, run {run_id}.",
        to=[RECIPIENT],
        headers={
            LATENCY_HEADER: str(latency_ms),
            LEARNER_HEADER: learner_id,
            RUN_HEADER: run_id,
            LAB_HEADER: LAB,
        },
    )
    started = time.perf_counter()
    message.send()
    return _ms(time.perf_counter() - started)


def _publish(*, learner_id: str, run_id: str, kind: str, **fields) -> None:
    event = {"kind": kind, "run": run_id, "lab": LAB, **fields}
    event_publish(learner_id=learner_id, lab=LAB, event=event)


def _publish_quietly(*, learner_id: str, run_id: str, kind: str, **fields) -> None:
    """Record an event of a run that has already happened: a Redis outage now only loses the
    record (the page says the broker is away), not the answer to the learner."""
    with contextlib.suppress(RedisError, OSError):
        _publish(learner_id=learner_id, run_id=run_id, kind=kind, **fields)


def lab_email_send_now(*, learner_id: str, latency_ms: int) -> EmailSent:
    """Send a run's email here and now: returns when the mail server has replied."""
    try:
        lab_rate_check(learner_id=learner_id, lab=LAB)  # shared with the background button
        run_id = secrets.token_hex(4)
        options = {"latency_ms": latency_ms}
        _publish(learner_id=learner_id, run_id=run_id, kind="sending", options=options)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    try:
        send_ms = email_send(learner_id=learner_id, run_id=run_id, latency_ms=latency_ms)
    except (OSError, smtplib.SMTPException) as error:
        reason = _mail_failure(error)
        _publish_quietly(learner_id=learner_id, run_id=run_id, kind="failed", error=reason)
        raise MailServerUnavailable(
            f"The email was not sent: {reason}. Is `python manage.py mail_server` running? "
            "(`make run` starts it.)",
            run_id=run_id,
        ) from error
    _publish_quietly(learner_id=learner_id, run_id=run_id, kind="succeeded", send_ms=send_ms)
    return EmailSent(run_id=run_id, send_ms=send_ms)


def lab_email_answered(*, learner_id: str, run_id: str, request_ms: int) -> None:
    """Record the server time of the request that started a run (sent or queued it)."""
    _publish_quietly(learner_id=learner_id, run_id=run_id, kind="answered", request_ms=request_ms)


def lab_email_execute(*, learner_id: str, run_id: str, latency_ms: int, worker: str) -> dict:
    """The worker's side of "in the background": send the email, report how it went."""
    _publish(learner_id=learner_id, run_id=run_id, kind="started", worker=worker)
    try:
        send_ms = email_send(learner_id=learner_id, run_id=run_id, latency_ms=latency_ms)
    except (OSError, smtplib.SMTPException) as error:
        # A real application would retry later (Celery's autoretry_for); the lab shows the
        # failure at once instead.
        reason = _mail_failure(error)
        _publish(learner_id=learner_id, run_id=run_id, kind="failed", error=reason)
        return {"sent": False, "error": reason, "worker": worker}
    _publish(learner_id=learner_id, run_id=run_id, kind="succeeded", send_ms=send_ms, worker=worker)
    return {"sent": True, "send_ms": send_ms, "worker": worker}


# Runs, as the page shows them.


@dataclass
class EmailRun:
    id: str
    started_at: float
    mode: str = ""  # "sync" (send now) or "background"
    latency_ms: int = 0
    status: str = "queued"
    request_ms: int | None = None  # the server time of the request that started the run
    send_ms: int | None = None  # how long the sender waited for the mail server
    delivered_ms: int | None = None  # when the mail server had it, after the request arrived
    worker: str = ""
    error: str = ""
    timeline: list[TimelineEntry] = field(default_factory=list)
    waiting: bool = False  # queued for a while with no worker: the page explains

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def mode_label(self) -> str:
        return MODES.get(self.mode, "")


class EmailRuns(Runs):
    """The runs shown, newest first, with the chart of the recent runs of both kinds."""

    chart: "EmailChart | None" = None


def email_observed(run: EmailRun) -> str | None:
    """Once the email is delivered: did its request wait for the mail server (its server time
    is at least the latency the server held its reply for) or return before?"""
    if run.delivered_ms is None or run.request_ms is None:
        return None
    return "waits" if run.request_ms >= run.latency_ms else "returns"


def email_runs_fold(events: list[tuple[str, dict]], *, now: float) -> EmailRuns:
    runs: dict[str, EmailRun] = {}
    pairing = PredictionPairing()
    for _event_id, event in events:
        kind, run_id = event.get("kind"), event.get("run")
        if pairing.take(event) or kind not in LABELS or not run_id:
            continue
        run = runs.get(run_id)
        if run is None:
            run = runs[run_id] = EmailRun(id=run_id, started_at=event["at"])
        offset_ms = _ms(event["at"] - run.started_at)
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
        if kind in STATUS_RANK and STATUS_RANK[kind] >= STATUS_RANK[run.status]:
            run.status = kind
        run.timeline.append(
            TimelineEntry(kind=kind, label=LABELS[kind], offset_ms=offset_ms, detail=detail)
        )
        pairing.seen(run)
    for run in runs.values():
        run.waiting = run.status == "queued" and now - run.started_at >= WAITING_HINT_AFTER_SECONDS
    newest_first = sorted(runs.values(), key=lambda run: run.started_at, reverse=True)
    shown = EmailRuns(newest_first[:RUNS_SHOWN])
    shown.chart = email_chart(newest_first)
    shown.prediction = pairing.latest
    return shown


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
    """Request time and time to delivery of the recent runs, grouped by kind (oldest first)."""
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
