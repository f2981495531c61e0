"""A task's whole life, as the page shows it: the lifecycle lab's runs folded from their events.

A run's events: ``queued`` (by the web request, with the behaviour asked for, or the shape of a
chain or group), then one ``state`` event for each Celery state the task goes through (reported
by the worker's signals and by the task itself, see ``services`` and ``signals``), and a
``cancel`` event when the learner asks to revoke it. A chain or a group is one run whose
``state`` events name the member (``node``) they are about; the run's state is its members'.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from labs.fold import LabFold, Run

LAB = "lifecycle"

BEHAVIOURS = {
    "succeed": "Succeed",
    "retry-once": "Fail once, then succeed on retry",
    "always-fail": "Always fail",
    "overrun": "Overrun its time limit",
}
SHAPES = {"chain": "Chain of 3", "group": "Group of 3"}
CANVAS_SIZE = 3

STATES = ("PENDING", "RECEIVED", "STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE", "REVOKED")
FINISHED = {"SUCCESS", "FAILURE", "REVOKED"}
# Revoking these needs terminate=True: the task is already running in a pool process.
RUNNING = {"STARTED", "PROGRESS"}
NOTES = {
    "PENDING": "queued on the broker",
    "RECEIVED": "a worker took the message",
    "STARTED": "the task began",
    "PROGRESS": "the task reported progress",
    "RETRY": "the attempt failed; a retry is scheduled",
    "SUCCESS": "finished; the result is stored",
    "FAILURE": "failed for good",
    "REVOKED": "revoked",
    "CANCEL": "you asked to cancel",
}


@dataclass
class StateEntry:
    """One line of a lifecycle run's timeline: a Celery state (or the learner's CANCEL) at the
    clock time it was reported, unlike labs.fold.TimelineEntry's lab event kinds."""

    state: str  # a Celery state, or CANCEL for the learner's request
    at: float
    offset_ms: int
    detail: str = ""
    node: int | None = None

    @property
    def note(self) -> str:
        return NOTES[self.state]

    @property
    def iso(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds")

    @property
    def clock(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%H:%M:%S.%f")[:-3]


@dataclass
class CanvasNode:
    number: int
    state: str = "PENDING"
    percent: int = 0
    attempts: int = 0
    task_id: str = ""


@dataclass
class LifecycleRun(Run):
    lab: str = LAB
    task_id: str = ""
    options: dict = field(default_factory=dict)
    # The Celery state; ``status`` (the lab framework's) follows it: "queued" while PENDING.
    state: str = "PENDING"
    percent: int = 0
    attempts: int = 0
    timeline: list[StateEntry] = field(default_factory=list)
    nodes: list[CanvasNode] = field(default_factory=list)
    error: str = ""
    cancel_requested: bool = False

    @property
    def queued(self) -> bool:
        """Waiting for a worker: no worker has reported the task (or any member) yet."""
        return self.state == "PENDING"

    @property
    def shape(self) -> str:
        return self.options.get("shape", "")

    @property
    def title(self) -> str:
        if self.shape:
            return SHAPES.get(self.shape, self.shape)
        return BEHAVIOURS.get(self.options.get("behaviour", ""), "Task")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def cancellable(self) -> bool:
        return not self.shape and not self.finished and not self.cancel_requested


def _detail(event: dict) -> str:
    state = event["state"]
    if state == "RECEIVED":
        text = f"by {event.get('worker')}"
        if event.get("redelivered"):
            text += "; redelivered: the worker that had it was lost before acknowledging it"
        if event.get("eta"):
            text += "; the worker holds it until its countdown ends"
        return text
    if state == "STARTED":
        where = f"in process {event.get('pid')} of {event.get('worker')}"
        return f"attempt {event.get('attempt')}, {where}"
    if state == "PROGRESS":
        return f"{event.get('percent')}% (step {event.get('step')} of {event.get('of')})"
    if state == "RETRY":
        return f"{event.get('error')}; next attempt in {event.get('countdown')} s"
    if state == "FAILURE":
        return event.get("error", "")
    if state == "REVOKED":
        return event.get("reason", "")
    return ""


def _state_apply(target: LifecycleRun | CanvasNode, event: dict) -> None:
    state = event["state"]
    # A finished task moves on only if its message is delivered again; anything else that
    # arrives late (progress sent just before a terminate) is shown, but changes nothing.
    if target.state in FINISHED and state != "RECEIVED":
        return
    target.state = state
    if state == "STARTED":
        target.attempts += 1
        target.percent = 0
    elif state == "PROGRESS":
        target.percent = int(event.get("percent", target.percent))
    elif state == "SUCCESS":
        target.percent = 100


def _canvas_state(nodes: list[CanvasNode]) -> str:
    states = {node.state for node in nodes}
    for final in ("FAILURE", "REVOKED"):
        if final in states:
            return final
    if states == {"SUCCESS"}:
        return "SUCCESS"
    return "PENDING" if states == {"PENDING"} else "STARTED"


class LifecycleFold(LabFold):
    """The learner's lifecycle runs: a single task, or a chain or group of three."""

    run_type = LifecycleRun
    over_statuses = frozenset(state.lower() for state in FINISHED)
    # A task of this lab runs up to its hard time limit (6 s) and retries after a countdown, on
    # the prefork worker's two slots that a class shares: a longer wait than the other labs'.
    deadline_seconds = 120.0
    # Predict, then observe: how the next single-task run ends.
    outcomes = {
        "success": "SUCCESS at the first try",
        "retry-success": "RETRY, then SUCCESS",
        "failure": "FAILURE",
        "revoked": "REVOKED",
    }

    def apply(self, event_id: str, event: dict) -> list[LifecycleRun]:
        kind, run_id = event.get("kind"), event.get("run")
        if kind == "queued" and run_id and run_id not in self.runs:
            return [self._queued_apply(event)]
        run = self.runs.get(run_id)
        if run is None:  # its "queued" event is older than the stream keeps
            return []
        offset_ms = round((event["at"] - run.queued_at) * 1000)
        if kind == "cancel":
            run.cancel_requested = True
            how = "revoke(terminate=True)" if event.get("terminate") else "revoke()"
            run.timeline.append(StateEntry("CANCEL", event["at"], offset_ms, how))
            return [run]
        if kind != "state" or event.get("state") not in STATES:
            return []
        node = event.get("node")
        if run.nodes:
            if not isinstance(node, int) or not 1 <= node <= len(run.nodes):
                return []
            _state_apply(run.nodes[node - 1], event)
            run.state = _canvas_state(run.nodes)
            run.percent = sum(n.percent for n in run.nodes) // len(run.nodes)
        else:
            _state_apply(run, event)
            if event["state"] == "FAILURE":
                run.error = event.get("error", "")
        run.status = "queued" if run.state == "PENDING" else run.state.lower()
        run.timeline.append(
            StateEntry(event["state"], event["at"], offset_ms, _detail(event), node)
        )
        return [run]

    def _queued_apply(self, event: dict) -> LifecycleRun:
        run = self.run_for(event)
        run.task_id, run.options = event.get("task_id", ""), event.get("options", {})
        if run.shape:
            size = int(run.options.get("size", CANVAS_SIZE))
            run.nodes = [
                CanvasNode(number=n, task_id=f"{run.task_id}-{n}") for n in range(1, size + 1)
            ]
        run.timeline.append(StateEntry("PENDING", event["at"], 0))
        return run

    def observed(self, run: LifecycleRun) -> str | None:
        """How a single task's run ended; None for a chain or a group, or a run not over."""
        if run.shape:
            return None
        if run.state == "SUCCESS":
            retried = any(entry.state == "RETRY" for entry in run.timeline)
            return "retry-success" if retried else "success"
        return {"FAILURE": "failure", "REVOKED": "revoked"}.get(run.state)
