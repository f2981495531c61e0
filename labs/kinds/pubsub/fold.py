"""Publish and subscribe, as the page shows it: the learner's events folded into three panels
(pub/sub, list, stream), the Python subscriber's runs, and whether the lesson's point was seen.

Events (all with ``lab: "pubsub"``): ``published`` (with ``receivers``, PUBLISH's reply),
``received`` (by a subscriber), ``pushed``/``popped`` (the list), ``added``/``read`` (the stream),
``predicted``, and the Python subscriber's runs: ``queued``, ``started``, ``listening``,
``received``, then ``succeeded`` or ``failed``.

The prediction is about PUBLISH's reply, so it is answered by the next publish, not by a run of
the Python subscriber: ``apply`` hands the fold's prediction pairing the publishes alone.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from labs.fold import LabFold, Run, Runs

PANEL_ACTIONS_SHOWN = 6
PUBLISHES_SHOWN = 8
SUBSCRIBER_RUNS_SHOWN = 3

SUBSCRIBER_STATUS = {
    "queued": (0, "Queued"),
    "started": (1, "Subscribing"),
    "listening": (2, "Listening"),
    "succeeded": (3, "Stopped"),
    "failed": (3, "Failed"),
    "lost": (3, "Lost"),
}
PANEL_COMMANDS = {"pushed": "LPUSH", "popped": "BRPOP", "added": "XADD", "read": "XREAD"}


@dataclass
class Publish:
    id: str  # its event's id
    channel: str
    data: str
    receivers: int
    at: float
    received_by: list[str] = field(default_factory=list)


@dataclass
class PanelAction:
    id: str  # its event's id
    command: str  # LPUSH, BRPOP, XADD, XREAD
    channel: str
    at: float
    items: list[tuple[str, str]] = field(default_factory=list)  # (entry id or "", message)
    length: int = 0


@dataclass
class SubscriberRun(Run):
    """A run of the Python subscriber, in a worker."""

    channels: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    received: int = 0
    reason: str = ""
    error: str = ""
    worker: str = ""

    @property
    def status_label(self) -> str:
        return SUBSCRIBER_STATUS[self.status][1]

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "listening"}

    @property
    def subscription_text(self) -> str:
        return " ".join(self.channels + self.patterns)


class PubsubRuns(Runs):
    """The Python subscriber's runs, newest first (what the lab stream watches), and the rest of
    the page: the three panels, the prediction (answered by the next PUBLISH), and whether the
    lesson's point was seen."""

    publishes: list[Publish]
    list_actions: list[PanelAction]
    stream_actions: list[PanelAction]
    lost_and_kept: bool


class PubsubFold(LabFold):
    run_type = SubscriberRun
    runs_type = PubsubRuns
    runs_shown = SUBSCRIBER_RUNS_SHOWN
    status_rank = {status: rank for status, (rank, _) in SUBSCRIBER_STATUS.items()}
    # A subscriber may listen for a minute with nothing to say (pubsub/services.py,
    # SUBSCRIBER_SECONDS), after a wait in its queue.
    deadline_seconds = 120.0
    # Predict, then observe: what the next PUBLISH's reply can show. A lesson's 'predict'
    # question maps each of its options to one of these codes ('observes:').
    outcomes = {"0": "None", "1": "One", "2": "Two", "3+": "Three or more"}

    def __init__(self) -> None:
        super().__init__()
        self.publishes: list[Publish] = []
        self.list_actions: list[PanelAction] = []
        self.stream_actions: list[PanelAction] = []
        self.lost: set[tuple[str, str]] = set()  # (channel, message) published, nobody listening
        self.lost_and_kept = False

    def apply(self, event_id: str, event: dict) -> Iterable[Publish]:
        kind = event.get("kind")
        if kind == "published":
            publish = Publish(
                id=event_id,
                channel=event.get("channel", ""),
                data=event.get("data", ""),
                receivers=int(event.get("receivers", 0)),
                at=event.get("at", 0.0),
            )
            if publish.receivers == 0:
                self.lost.add((publish.channel, publish.data))
            self.publishes.append(publish)
            return [publish]
        if kind == "received" and not event.get("run"):
            self._deliver(event, event.get("subscriber", "a subscriber"))
        elif kind in PANEL_COMMANDS:
            action = _panel_action(event_id, event)
            (self.list_actions if kind in {"pushed", "popped"} else self.stream_actions).append(
                action
            )
            self.touched.add(action.id)  # a new item of its panel, for the lab's stream
            if kind in {"popped", "read"} and any(
                (action.channel, message) in self.lost for _, message in action.items
            ):
                self.lost_and_kept = True
        elif event.get("run"):
            self._subscriber_event(event)
        return []

    def observed(self, run: Publish) -> str:
        """How many subscribers the PUBLISH reached, as an outcome code."""
        return "3+" if run.receivers >= 3 else str(run.receivers)

    def result(self, *, now: float, deadline: float | None = None) -> PubsubRuns:
        shown = super().result(now=now, deadline=deadline)
        shown.publishes = self.publishes[::-1][:PUBLISHES_SHOWN]
        shown.list_actions = self.list_actions[::-1][:PANEL_ACTIONS_SHOWN]
        shown.stream_actions = self.stream_actions[::-1][:PANEL_ACTIONS_SHOWN]
        shown.lost_and_kept = self.lost_and_kept
        return shown

    def _deliver(self, event: dict, subscriber: str) -> None:
        """Count a delivery with the latest publish of that message on that channel."""
        channel, data = event.get("channel", ""), event.get("data", "")
        for publish in reversed(self.publishes):
            if publish.channel == channel and publish.data == data:
                publish.received_by.append(subscriber)
                self.touched.add(publish.id)  # shown again by the lab's stream
                return

    def _subscriber_event(self, event: dict) -> None:
        kind, run_id = event.get("kind"), event["run"]
        if run_id not in self.runs and kind != "queued":
            return  # its start fell out of the capped event stream
        run = self.run_for(event)
        if kind == "queued":
            options = event.get("options", {})
            run.channels, run.patterns = options.get("channels", []), options.get("patterns", [])
        elif kind == "started":
            run.worker = event.get("worker", "")
        elif kind == "received":
            run.received += 1
            run.lines.append(event.get("line", ""))
            self._deliver(event, f"Python subscriber {run_id}")
        elif kind == "succeeded":
            run.reason = event.get("result", {}).get("reason", "")
        elif kind == "failed":
            run.error = event.get("error", "")
        if kind in self.status_rank:
            self.advance(run, kind)


def _panel_action(event_id: str, event: dict) -> PanelAction:
    kind = event["kind"]
    if kind in {"pushed", "added"}:
        items = [(event.get("entry", ""), event.get("data", ""))]
    else:
        items = [(str(entry), str(message)) for entry, message in event.get("items", [])]
    return PanelAction(
        id=event_id,
        command=PANEL_COMMANDS[kind],
        channel=event.get("channel", ""),
        at=event.get("at", 0.0),
        items=items,
        length=int(event.get("length", 0)),
    )


def lost_and_kept(runs: PubsubRuns) -> bool:
    """The lesson's point, seen: a message published with nobody subscribed (lost), then read
    from the list or the stream it was also sent to (kept)."""
    return runs.lost_and_kept
