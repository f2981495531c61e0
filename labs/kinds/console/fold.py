"""The Redis console as the page shows it, folded from the learner's events (pure): the lines
run, oldest first, the job each pop took for a prediction, and the goals.

Each line run is one ``command`` event (``services.console_execute`` records it), which is one
entry here; the goals read every entry, in order, and the page shows the last
``TRANSCRIPT_SHOWN``.
"""

from collections import Counter
from dataclasses import dataclass, field

from labs.fold import LabFold, Run, Runs

TRANSCRIPT_SHOWN = 30

# Predict, then observe: what the next RPOP or BRPOP of a list takes, against the order of the
# LPUSHes that filled it.
OUTCOMES = {
    "first": "The first job pushed",
    "last": "The last job pushed",
    "nil": "Nothing: (nil)",
}


@dataclass
class ConsoleEntry(Run):
    """A line run in the console: a run of its own for the event stream (id, status, waiting),
    begun and ended by its one event."""

    status: str = "ok"  # "ok", "error", "refused"
    kind: str = "command"
    name: str = ""
    line: str = ""
    text: str = ""
    note: str = ""
    facts: dict = field(default_factory=dict)
    # An RPOP or BRPOP: which of the list's LPUSHed jobs it took, as an outcome code ("first",
    # "last", "nil"), or "" when that says nothing (a job in the middle, the only one...).
    took: str = ""


class ConsoleRuns(Runs):
    """Every console entry, oldest first (the goals read them in order)."""

    @property
    def transcript(self) -> list[ConsoleEntry]:
        return self[-TRANSCRIPT_SHOWN:]

    @property
    def subscriptions(self) -> dict:
        """The channels and patterns after the last (un)subscribe."""
        for entry in reversed(self):
            if entry.name.endswith("SUBSCRIBE") and entry.status == "ok":
                return entry.facts
        return {}


class ConsoleFold(LabFold):
    run_type = ConsoleEntry
    deadline_seconds = None  # a command is over when it is recorded
    runs_type = ConsoleRuns
    outcomes = OUTCOMES

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, list[str]] = {}  # each list's LPUSHed jobs still in it, first first

    def apply(self, event_id: str, event: dict) -> list[ConsoleEntry]:
        if event.get("kind") != "command":
            return []
        entry = ConsoleEntry(id=event_id, queued_at=event["at"], status=event["status"])
        entry.name, entry.line, entry.text = event["name"], event["line"], event["text"]
        entry.note, entry.facts = event.get("note", ""), event.get("facts") or {}
        _jobs_follow(self.jobs, entry)
        self.runs[event_id] = entry
        return [entry]

    def observed(self, run: ConsoleEntry) -> str | None:
        """Which of the list's LPUSHed jobs an RPOP or BRPOP took."""
        return run.took or None

    def result(self, *, now: float, deadline: float | None = None) -> ConsoleRuns:
        """Every entry, oldest first (in the order of the learner's stream): never waiting nor
        lost, since a line has run by the time it is recorded."""
        entries = self.runs_type(self.runs.values())
        entries.prediction = self.latest
        return entries


def _jobs_follow(jobs: dict[str, list[str]], entry: ConsoleEntry) -> None:
    """Follow the jobs LPUSHed onto each list and taken off it; say which one an RPOP or a
    BRPOP took (``entry.took``)."""
    if entry.status != "ok":
        return
    if entry.name == "DEL":  # a deleted list starts again empty
        for key in entry.facts.get("keys", []):
            jobs.pop(key, None)
        return
    key, values = entry.facts.get("key"), entry.facts.get("values", [])
    waiting = jobs.setdefault(key, []) if key else []
    if entry.name == "LPUSH":
        waiting.extend(values)
        return
    if entry.name not in ("LPOP", "RPOP", "BRPOP"):
        return
    if entry.name != "LPOP":
        first, last = (waiting[0], waiting[-1]) if waiting else (None, None)
        if not values:
            entry.took = "nil"
        elif first != last:  # with one job waiting, it is the first and the last
            entry.took = {first: "first", last: "last"}.get(values[0], "")
    for value in values:
        if value in waiting:
            waiting.remove(value)


# Goals, checked from the fold.

UPDATES_CHANNEL, UPDATES_MESSAGE = "updates", "New data available"


def console_published_while_two_listen(runs: list[ConsoleEntry]) -> bool:
    """A PUBLISH of "New data available" on updates that reached two (or more) subscribers."""
    return any(
        entry.name == "PUBLISH"
        and entry.facts.get("channel") == UPDATES_CHANNEL
        and entry.facts.get("message") == UPDATES_MESSAGE
        and entry.facts.get("receivers", 0) >= 2
        for entry in runs
    )


def console_moved_three_jobs(runs: list[ConsoleEntry]) -> bool:
    """Three items LPUSHed onto one list, then taken off that list with RPOP or BRPOP."""
    waiting: dict[str, Counter] = {}
    moved: Counter = Counter()
    for entry in runs:
        if entry.status != "ok":
            continue
        key = entry.facts.get("key")
        if entry.name == "LPUSH":
            waiting.setdefault(key, Counter()).update(entry.facts.get("values", []))
        elif entry.name in ("RPOP", "BRPOP"):
            for value in entry.facts.get("values", []):
                if waiting.get(key, Counter())[value] > 0:
                    waiting[key][value] -= 1
                    moved[key] += 1
    return any(count >= 3 for count in moved.values())


def console_shared_a_stream(runs: list[ConsoleEntry]) -> bool:
    """A stream shared in a consumer group: two of its consumers each read an entry, and every
    entry the group handed out has been acknowledged."""
    readers: dict[tuple, set[str]] = {}
    handed_out: dict[tuple, set[str]] = {}
    acked: Counter = Counter()
    for entry in runs:
        if entry.status != "ok":
            continue
        facts = entry.facts
        if entry.name == "XREADGROUP":
            for key, ids in facts.get("entries", {}).items():
                group = (key, facts.get("group"))
                if ids:
                    readers.setdefault(group, set()).add(facts.get("consumer"))
                    handed_out.setdefault(group, set()).update(ids)
        elif entry.name == "XACK":
            acked[(facts.get("key"), facts.get("group"))] += facts.get("acked") or 0
    return any(
        len(readers[group]) >= 2 and acked[group] >= len(handed_out[group]) for group in readers
    )
