"""The skeleton every lab's fold shares: a lab's recorded events in, the runs its page shows out.

A fold is pure (no Redis, no database, no clock of its own), so the first render of a page, a
live update and a reconnected stream all show the same thing, and tests build events by hand.
It takes events one at a time (``LabFold.add``): a stream keeps its fold and adds only what is
new, and shows again only the runs the new events changed (``LabFold.touched``). Each lab
subclasses ``LabFold`` in ``labs/kinds/<kind>/fold.py``: ``apply`` says what one event does to a
run, ``observed`` how a run came out for a prediction; the base class keeps the runs, pairs the
learner's predictions with them, flags runs left waiting, tells the runs that went silent as
lost, and shows the newest.
"""

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

# A run still waiting for a worker after this long gets an explanation instead of a spinner.
WAITING_HINT_AFTER_SECONDS = 3.0
RUNS_SHOWN = 5
# The events after which a run is over, whatever its lab.
TERMINAL_KINDS = {"succeeded", "failed", "revoked"}
# How long a lab's run may go without an event before it is shown as lost (its worker died, or
# Redis lost its message): longer than its task runs silently plus the wait in a full queue.
# A lab sets its own (LabFold.deadline_seconds).
DEADLINE_SECONDS = 60.0
# Recorded by a lab's event stream that a browser reconnected to with Last-Event-ID: ``after``
# (that id) and ``replayed`` (how many of the lab's events it had missed).
STREAM_RESUMED = "stream-resumed"

Event = tuple[str, dict]  # (its id in the lab's Redis stream, the event)
# The id of a stand-in "queued" event, for a run recorded as started whose events Redis does not
# have (labs/lost.py): before any id of a real stream.
STAND_IN_EVENT_ID = "0-0"


def stream_id_after(stream_id: str, than: str) -> bool:
    """Whether ``stream_id`` comes after ``than``: ids compare as two numbers, not as text."""

    def key(value: str) -> tuple[int, int]:
        ms, _, seq = value.partition("-")
        return int(ms), int(seq or 0)

    return key(stream_id) > key(than)


class TemplateLookups:
    """Answers ``obj[name]`` with its attribute ``name``. Django's template engine tries a
    subscript before an attribute: on an object without one, each of a card's lookups raises
    and catches a TypeError first, a tenth of the card's render (an event stream renders one
    per event)."""

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


@dataclass
class TimelineEntry(TemplateLookups):
    kind: str
    label: str
    offset_ms: int
    detail: str = ""
    step: int | None = None  # a progress entry's step


@dataclass
class Run(TemplateLookups):
    """What every lab's run has; a lab's own run type adds its fields."""

    id: str
    queued_at: float  # when its first event was recorded
    status: str = "queued"
    timeline: list = field(default_factory=list)
    # Waiting for a worker for WAITING_HINT_AFTER_SECONDS or more: the page explains why.
    waiting: bool = False
    # The Celery queue it was sent to, and the pool and slots of that queue's worker, as
    # recorded when it was queued (learnsite/workers.py).
    queue: str = ""
    pool: str = ""
    concurrency: int = 0
    # While queued: how many runs will start before it. Not from the events: read from Redis
    # each time the runs are shown (labs/queues.py); None when not known.
    ahead: int | None = None
    # When its newest event was recorded (its worker's last news).
    last_at: float = 0.0
    # Not over, and silent for longer than its lab's deadline: only ever set on the copy that
    # LabFold.result shows, so that an event coming late still moves the run on.
    lost: bool = False
    lost_after: int = 0  # the seconds of silence after which it was called lost

    @property
    def queued(self) -> bool:
        """Still waiting for a worker to pick it up (what ``waiting`` is measured on)."""
        return self.status == "queued"


@dataclass(frozen=True)
class PredictionOutcome:
    """A recorded prediction and, once a run has answered it, what the run showed."""

    choice: str  # the outcome code the learner chose
    choice_label: str  # the option they chose, in words
    observed: str | None = None  # an outcome code, or None: not run yet
    observed_label: str = ""  # what the run showed, in words (set with observed)
    run: str = ""  # the id of the run that showed it (set with observed)

    @property
    def right(self) -> bool:
        return self.observed == self.choice


class Runs(list):
    """What a fold returns: its runs as the page lists them, and the learner's newest prediction
    with what it became (``{% include "labs/_prediction.html#outcome" %}``)."""

    prediction: PredictionOutcome | None = None
    # When the next of these runs becomes lost if no event comes first (None: none can): an
    # event stream wakes up then, to show it.
    lost_at: float | None = None


class LabFold:
    """A lab's runs, built one event at a time. Subclasses set the class attributes and
    ``apply``; ``observed`` too if the lab asks a prediction (``outcomes``)."""

    run_type: ClassVar[type[Run]] = Run
    runs_type: ClassVar[type[Runs]] = Runs
    runs_shown: ClassVar[int] = RUNS_SHOWN
    # Predict, then observe: what a run can show, by outcome code. A lesson's 'predict'
    # question maps each of its options to one of these ('observes:').
    outcomes: ClassVar[dict[str, str]] = {}
    # Statuses only move forward, so a late or repeated event never turns a run back.
    status_rank: ClassVar[dict[str, int]] = {}
    # The statuses of a run that is over: it can no longer be lost.
    over_statuses: ClassVar[frozenset[str]] = frozenset(TERMINAL_KINDS)
    # Seconds a run of this lab may go without an event before it is shown as lost; None: its
    # runs are over as soon as they are recorded.
    deadline_seconds: ClassVar[float | None] = DEADLINE_SECONDS

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.latest: PredictionOutcome | None = None  # the newest prediction, answered or not
        self._waiting: PredictionOutcome | None = None  # the prediction no run answered yet
        self._seen: set[str] = set()  # every run so far
        self._begun_since: set[str] = set()  # the runs begun since the waiting prediction
        self._stood_in: set[str] = set()  # the runs begun by a stand-in "queued" event
        # The ids of the runs that events changed since the set was last emptied: those an
        # event stream shows again (the ones ``apply`` returns, and the event's own run; and
        # the items of a lab's feeds that ``apply`` adds, labs/frames.py FEEDS).
        self.touched: set[str] = set()

    @classmethod
    def fold(cls, events: Iterable[Event], *, now: float, deadline: float | None = None) -> Runs:
        """The runs ``events`` make, as of ``now`` (``deadline``: see ``result``)."""
        fold = cls()
        for event_id, event in events:
            fold.add(event_id, event)
        return fold.result(now=now, deadline=deadline)

    def add(self, event_id: str, event: dict) -> None:
        if event.get("kind") == "predicted":
            self._predicted(event)
            return
        if event.get("kind") == "queued":
            if event_id == STAND_IN_EVENT_ID:
                self._stood_in.add(event.get("run"))
            elif event.get("run") in self._stood_in:
                # Its own start was recorded after all (after the read that missed it, as a
                # learner starts a run while their page's stream opens): it begins the run
                # again, in place of the stand-in.
                self._stood_in.discard(event["run"])
                self.runs.pop(event["run"], None)
        for run in self.apply(event_id, event):
            self._run_seen(run)
            self.touched.add(run.id)
        run = self.runs.get(event.get("run"))
        if run is not None:  # news from the run itself (not a page's stream-resumed note)
            run.last_at = max(run.last_at, event["at"])
            self.touched.add(run.id)
        if event.get("kind") == "queued" and event.get("run") in self.runs:
            run = self.runs[event["run"]]
            run.queue, run.pool = event.get("queue", ""), event.get("pool", "")
            run.concurrency = event.get("concurrency", 0)

    def apply(self, event_id: str, event: dict) -> Iterable[Run]:
        """Apply one event; returns the runs it changed (for the prediction waiting on them)."""
        raise NotImplementedError

    def observed(self, run: Run) -> str | None:
        """How ``run`` came out, as one of ``outcomes``; None while it cannot tell (the run is
        not over, or shows none of them)."""
        return None

    def run_begun(self, event: dict) -> Run | None:
        """``run_for`` the event, begun only by its "queued" event: None for an event of no
        run, or of a run whose start fell out of the capped event stream."""
        run_id = event.get("run")
        if not run_id or (run_id not in self.runs and event.get("kind") != "queued"):
            return None
        return self.run_for(event)

    def run_for(self, event: dict) -> Run:
        """The event's run, begun by it if it is the first of the run."""
        run_id = event["run"]
        if run_id not in self.runs:
            self.runs[run_id] = self.run_type(id=run_id, queued_at=event["at"])
        return self.runs[run_id]

    def advance(self, run: Run, status: str) -> None:
        """Move ``run`` to ``status`` unless it is already further on."""
        if self.status_rank[status] >= self.status_rank[run.status]:
            run.status = status

    def run_deadline(self, run: Run, deadline: float) -> float:
        """Seconds ``run`` may go without an event, given its lab's ``deadline``: a lab whose
        runs may be held on purpose (a countdown) adds that."""
        return deadline

    def result(self, *, now: float, deadline: float | None = None) -> Runs:
        """The newest runs, newest first, as of ``now``. A run not over whose newest event is
        older than the lab's deadline (``deadline``, if given, in place of the lab's own:
        settings.LAB_RUN_DEADLINE_SECONDS) is shown as lost."""
        deadline = self.deadline_seconds if deadline is None else deadline
        newest_first = sorted(self.runs.values(), key=lambda run: run.queued_at, reverse=True)
        shown = self.runs_type()
        for run in newest_first[: self.runs_shown]:
            run.waiting = run.queued and now - run.queued_at >= WAITING_HINT_AFTER_SECONDS
            if self.deadline_seconds is not None and run.status not in self.over_statuses:
                seconds = self.run_deadline(run, deadline)
                lost_at = run.last_at + seconds
                if now >= lost_at:
                    run = dataclasses.replace(
                        run, status="lost", lost=True, lost_after=round(seconds), waiting=False
                    )
                elif shown.lost_at is None or lost_at < shown.lost_at:
                    shown.lost_at = lost_at
            shown.append(run)
        shown.prediction = self.latest
        return shown

    # Predict, then observe. A prediction is answered by the first run begun after it whose
    # outcome the lab can tell: a run that shows none leaves it waiting for the next. A newer
    # prediction replaces one still waiting. Events only ever add to the stream, so a
    # prediction, once answered, stays answered.

    def _predicted(self, event: dict) -> None:
        choice = event.get("choice")
        if choice in self.outcomes:
            label = event.get("label") or self.outcomes[choice]
            self._waiting = self.latest = PredictionOutcome(choice=choice, choice_label=label)
            self._begun_since = set()

    def _run_seen(self, run: Any) -> None:
        """``run`` (anything with an ``id``) has just taken one more of its events."""
        if run.id not in self._seen:
            self._seen.add(run.id)
            self._begun_since.add(run.id)
        if self._waiting is None or run.id not in self._begun_since:
            return
        code = self.observed(run)
        if code in self.outcomes:
            self.latest = dataclasses.replace(
                self._waiting, observed=code, observed_label=self.outcomes[code], run=run.id
            )
            self._waiting = None
