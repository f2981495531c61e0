"""A lab's frames: what an open lab page is sent when its runs change, rendered once per event.

Every open page of a learner's lab shows the same runs, so the frame one event makes of them
(the cards it changed, swapped out of band) is the same for all of them. ``event_frame``
renders it where the event is recorded (``labs.events.event_publish``: a worker, or the request
that started a run), from the lab's fold as it stood just before the event, and the event's
announcement carries it: an open stream whose page stands just before that event sends it on
as it is, and reads, folds and renders nothing (labs/pages.py). A stream that cannot (it
missed an announcement, its page stands elsewhere, or the announcement carries no frame)
reads the record and renders its own frame with the same functions (``frame_render``).

The goals of the lab that an event meets are recorded here too, before its announcement (a page
that shows a goal met can count on it being in the learner's progress), and its frame marks
them done. A frame also says when, with no event, its runs next change (``next_look``: a run's
waiting hint, its deadline, its queue place), so a stream that only sent frames on still wakes
up then. An announcement carries no frame when it could not be rendered (or the goals recorded).
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from django.conf import settings
from django.db import Error as DatabaseError
from django.template import engines
from django.template.loader import get_template
from markupsafe import Markup
from redis.exceptions import RedisError

from learners.progress import lab_goals_record
from learnsite.streaming import sse_event

from .fold import WAITING_HINT_AFTER_SECONDS, Event, LabFold, PredictionOutcome, Run, Runs
from .queues import runs_ahead_place
from .registry import LAB_KINDS, LabKind

log = logging.getLogger(__name__)

# One run's card, if the lab has one: in a slot named by the run's id, which a frame swaps out of
# band (a Jinja2 template: learnsite/jinja.py).
CARDS = "labs/cards/{kind}.jinja"
# What a lab with cards shows about all its runs together (the email lab's chart), if anything:
# in a slot of its own, which every frame of changed cards swaps out of band too.
SUMMARIES = "labs/summaries/{kind}.jinja"
# A lab's feeds, if it has any: logs its page lists beside the runs (the pub/sub lab's panels),
# newest first. Each macro renders one item of the feed named as the macro (the attribute of the
# lab's runs that lists its items), in an element with the id "<feed>-<item id>": a frame sends
# the new and changed items alone, as it does cards.
FEEDS = "labs/feeds/{kind}.jinja"
# While a run waits in the queue its page looks this often how many runs are still ahead of it
# (they are other learners' runs: nothing in this learner's events says so).
WAITING_TICK_SECONDS = 1.0
# Looked at this long after a run's deadline (or its waiting hint's), so that the fold, as of
# then, finds it past it.
LOST_TICK_SLACK = 0.05
# Where a frame rendered once for every page of a learner has the page's own CSRF token (the
# cancel forms of a card): each stream puts its page's in. Escaped anywhere else it would be
# shown, so no learner's text can put it in a page.
CSRF_SLOT = "<csrf-slot>"
_CSRF_SLOT_UNESCAPED = Markup(CSRF_SLOT)  # noqa: S704 (a constant of this module, not input)
# The folds an event_frame keeps in a process, each of one learner's lab, just after its newest
# event: the next event of that lab (a worker's next step) adds itself to it and renders. Past
# this many, the least recently used goes; its next event folds the lab's record again.
FOLDS_KEPT = 1024
# Run ids the frames name in a CSS selector as they are; the runs of any other are sent whole.
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Shown:
    """What a lab page shows of its runs, as the frames so far left it."""

    ids: list[str] | None = None  # newest first; None: not known (then a frame is whole)
    waiting: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    ahead: dict[str, int | None] = field(default_factory=dict)
    prediction: PredictionOutcome | None = None
    feeds: dict[str, list[str]] = field(default_factory=dict)  # each feed's item ids, as ``ids``

    def flagged(self, after: "Shown") -> set[str]:
        """The runs whose flags ``after`` changes: waiting, lost, their place in the queue."""
        places = {run_id for run_id in self.ahead.keys() | after.ahead.keys()
                  if self.ahead.get(run_id) != after.ahead.get(run_id)}  # fmt: skip
        return (self.waiting ^ after.waiting) | (self.lost ^ after.lost) | places


# What a page shows before its stream's first frame, or after frames rendered elsewhere.
NOT_KNOWN = Shown()


def shown_after(runs: Runs, *, ahead: dict[str, int | None], feeds: dict) -> Shown:
    """What a page shows once sent a frame of ``runs`` (and their places ``ahead``)."""
    return Shown(
        [run.id for run in runs],
        {run.id for run in runs if run.waiting},
        {run.id for run in runs if run.lost},
        ahead,
        runs.prediction,
        {name: [item.id for item in getattr(runs, name)] for name in feeds},
    )


class LabTemplates:
    """What a lab's frames are rendered with: its card, summary and feeds, if it has them, and
    its page's runs partial (a frame that is the whole of it)."""

    def __init__(self, kind: str) -> None:
        self.card = card_template(kind)
        self.summary = summary_template(kind)
        self.feeds = _feed_macros(kind)
        self.runs_partial = get_template(f"{LAB_KINDS[kind].template}#runs")


_loaded: dict[str, LabTemplates] = {}


def lab_templates(kind: str) -> LabTemplates:
    """The templates of lab ``kind``'s frames: loaded once per process, or for every frame under
    DEBUG, which reloads a template that was edited."""
    if settings.DEBUG:
        return LabTemplates(kind)
    if kind not in _loaded:
        _loaded[kind] = LabTemplates(kind)
    return _loaded[kind]


def _lab_template(name: str, kind: str) -> jinja2.Template | None:
    try:
        return engines["jinja2"].env.get_template(name.format(kind=kind))
    except jinja2.TemplateNotFound:
        return None


def card_template(kind: str) -> jinja2.Template | None:
    """The lab's card of one run (``CARDS``), or None if it has none: then its runs partial
    shows more than cards, a summary, feeds and the prediction, and every frame is the whole
    partial."""
    return _lab_template(CARDS, kind)


def summary_template(kind: str) -> jinja2.Template | None:
    """What the lab's runs partial shows about all its runs together (``SUMMARIES``), given
    ``runs``, or None if it shows nothing of the kind. A frame of changed cards carries it
    again, swapped out of band: any change of a run may change it."""
    return _lab_template(SUMMARIES, kind)


def _feed_macros(kind: str) -> dict[str, Callable[..., str]]:
    """The item macro of each of the lab's feeds (``FEEDS``), by feed name; none if it has none."""
    feeds = _lab_template(FEEDS, kind)
    if feeds is None:
        return {}
    return {name: macro for name, macro in vars(feeds.module).items() if name[:1] != "_"}


def slot_render(run: Run, oob: str, *, card: jinja2.Template, csrf_token: str) -> str:
    """One run's ``card`` in its slot, as the page's runs partial puts it in, swapped out of
    band as ``oob`` says."""
    return card.render(run=run, oob=oob, csrf_token=csrf_token)


def _changed_cards(*, runs: list, shown: list[str] | None, dirty: set[str],
                   slot: Callable[[Any, str], str], slot_id: str = "run-slot-{}"
                   ) -> str | None:  # fmt: skip
    """Only what changed since the page showed the runs ``shown`` (their ids), swapped out of
    band: the cards of ``dirty`` runs, the new runs' cards on top, the cards of runs no longer
    shown gone. None when that cannot say it (the page showed no run, or the runs moved
    otherwise): then the whole partial goes. So too for a feed's items (``slot_id``: the id
    of an item's element)."""
    ids = [run.id for run in runs]
    if shown is None or not all(RUN_ID.fullmatch(run_id) for run_id in ids):
        return None
    if not ids and not shown:
        return ""  # none shown and none to show: only the rest may have changed
    still = set(ids)
    kept = [run_id for run_id in shown if run_id in still]
    # Patchable: the runs still shown are the page's first ones, in its order, and come last.
    if not kept or kept != shown[: len(kept)] or ids[len(ids) - len(kept) :] != kept:
        return None
    added = runs[: len(ids) - len(kept)]
    parts = [f'<div id="{slot_id.format(run_id)}" hx-swap-oob="delete"></div>'
             for run_id in shown[len(kept) :]]  # fmt: skip
    if added:
        cards = "".join(slot(run, "") for run in added)
        before = slot_id.format(kept[0])
        parts.append(f'<div hx-swap-oob="beforebegin:#{before}">{cards}</div>')
    parts.extend(slot(run, "true") for run in runs[len(added) :] if run.id in dirty)
    return "".join(parts)


def frame_render(*, runs: Runs, shown: Shown, dirty: set[str], templates: LabTemplates,
                 csrf_token: str) -> str:  # fmt: skip
    """The html of the frame that takes a page from ``shown`` to ``runs``: the cards of the
    ``dirty`` runs and the items of the lab's feeds that changed, with the lab's summary, all
    swapped out of band; the whole runs partial where that cannot say it."""
    card = templates.card
    if card is not None and runs.prediction == shown.prediction:

        def slot(run: Run, oob: str) -> str:
            return slot_render(run, oob, card=card, csrf_token=csrf_token)

        parts = [_changed_cards(runs=runs, shown=shown.ids, dirty=dirty, slot=slot)]
        parts += [_changed_cards(runs=getattr(runs, name), shown=shown.feeds.get(name),
                                 dirty=dirty, slot=item, slot_id=f"{name}-{{}}")
                  for name, item in templates.feeds.items()]  # fmt: skip
        if None not in parts:
            if templates.summary is not None:
                parts.append(templates.summary.render(runs=runs, oob="true"))
            return "".join(parts)
    html = templates.runs_partial.render({"runs": runs, "csrf_token": csrf_token})
    return f'<div id="runs" hx-swap-oob="innerHTML">{html}</div>'


def goals_shown(lab: LabKind, done: set[str]) -> list[dict]:
    """The lab's goals as its page lists them, those named in ``done`` done."""
    return [
        {"name": name, "description": goal.description, "done": name in done}
        for name, goal in lab.goals.items()
    ]


def goals_met_render(lab: LabKind, met: set[str]) -> str:
    """The items of the lab's goals ``met``, done, swapped out of band into its page's list:
    the others stay as the page shows them (met before, as recorded, or not)."""
    partial = get_template("labs/_goals.html#goal")
    return "".join(partial.render({"goal": goal, "oob": True})
                   for goal in goals_shown(lab, met) if goal["done"])  # fmt: skip


def next_look(runs: Runs, *, now: float) -> float | None:
    """When, with no event, ``runs`` next change as a page shows them: a queued run's place
    (every WAITING_TICK_SECONDS), its waiting hint, a run's deadline; None: never."""
    due = [run.queued_at + WAITING_HINT_AFTER_SECONDS
           for run in runs if run.queued and not (run.waiting or run.lost)]  # fmt: skip
    if runs.lost_at is not None:
        due.append(runs.lost_at)
    due = [at + LOST_TICK_SLACK for at in due]
    if any(run.queued and run.queue and not run.lost for run in runs):
        due.append(now + WAITING_TICK_SECONDS)
    return min(due) if due else None


@dataclass
class _Kept:
    """A lab's fold, just after its newest event, and what its frame left a page showing."""

    last_id: str
    fold: LabFold
    shown: Shown | None = None  # None: not rendered here yet
    goals: set[str] = field(default_factory=set)  # those its runs meet


_kept: dict[tuple[str, str], _Kept] = {}
_kept_lock = threading.Lock()


def _kept_take(key: tuple[str, str]) -> _Kept | None:
    """The kept fold of ``key``, no longer kept: a thread recording another event of the same
    lab meanwhile folds the record itself, never the same fold at once."""
    with _kept_lock:
        return _kept.pop(key, None)


def _kept_put(key: tuple[str, str], kept: _Kept) -> None:
    with _kept_lock:
        _kept[key] = kept  # newest last: the dict's first key is the least recently used
        while len(_kept) > FOLDS_KEPT:
            del _kept[next(iter(_kept))]


def event_frame(*, learner_id: str, kind: str, previous: str, event_id: str, event: dict,
                history: Callable[[str], list[Event]]) -> str:  # fmt: skip
    """The frame that the event ``event_id`` of ``kind``, just recorded after ``previous``,
    makes for a page that stands at ``previous``, as its announcement carries it:
    "<next look> <frame>" (next look: a time, or "-"; the frame as the wire has it, its event id
    in it). "" when a stream must render its own
    (Redis did not answer for the queue places, or the database to record a goal met).

    ``history(since)`` reads the lab's record from the id ``since`` ("-": the first) up to the
    event, for when no fold kept here stands at ``previous``: another process recorded the
    events since (a worker's run begins with the request's "queued"), or this one never saw the
    lab."""
    lab = LAB_KINDS.get(kind)
    if lab is None:
        return ""
    key = (learner_id, kind)
    kept = _kept_take(key)
    if kept is None or kept.last_id != previous:
        try:
            kept = _kept_caught_up(kept, lab=lab, history=history, previous=previous,
                                   event_id=event_id)  # fmt: skip
        except (RedisError, OSError):
            return ""
        if kept is None:
            return ""  # the event itself is not in the record: nothing sure to render against
    try:
        return _frame_render(kept, lab=lab, learner_id=learner_id, kind=kind,
                             event_id=event_id, event=event)  # fmt: skip
    finally:
        _kept_put(key, kept)


def _kept_caught_up(kept: _Kept | None, *, lab: LabKind, history: Callable[[str], list[Event]],
                    previous: str, event_id: str) -> _Kept | None:  # fmt: skip
    """``kept`` moved on to ``previous`` with the events recorded after it (by other processes);
    a fold of the whole record if there is none kept, or if its newest event is no longer in the
    record (trimmed, or the key expired). None if the record does not reach the new event."""
    events = history(kept.last_id) if kept is not None else []
    if kept is not None and events and events[0][0] == kept.last_id:
        events = events[1:]  # it still stands in the record: what follows it is all it lacks
        kept.last_id, kept.shown = previous, None  # what a page at ``previous`` shows: not known
    else:
        kept, events = _Kept(previous, lab.fold()), history("-")
    if not events or events[-1][0] != event_id:
        return None
    for earlier_id, earlier in events[:-1]:  # the last: the new event, added by the render
        kept.fold.add(earlier_id, earlier)
    return kept


def _frame_render(kept: _Kept, *, lab: LabKind, learner_id: str, kind: str, event_id: str,
                  event: dict) -> str:  # fmt: skip
    """``event_frame``, from ``kept``, which it moves on to the event."""
    fold, now = kept.fold, time.time()
    deadline = settings.LAB_RUN_DEADLINE_SECONDS
    templates = lab_templates(kind)
    shown, goals_before = kept.shown, kept.goals
    if shown is None:  # what the page shows now: the runs as a stream would render them
        before = fold.result(now=now, deadline=deadline)
        shown = shown_after(before, ahead={}, feeds=templates.feeds)
        goals_before = lab.goals_met(before)
    fold.touched.clear()
    fold.add(event_id, event)
    kept.last_id, kept.shown = event_id, None
    runs = fold.result(now=now, deadline=deadline)
    kept.goals = lab.goals_met(runs)
    met = kept.goals - goals_before
    try:
        ahead = runs_ahead_place(learner_id=learner_id, runs=runs)
    except (RedisError, OSError):
        return ""
    after = shown_after(runs, ahead=ahead, feeds=templates.feeds)
    # The cards whose run the event changed, became waiting or lost, or has a queue place
    # (the page's may be older: places change with other learners' runs).
    dirty = fold.touched | shown.flagged(after) | ahead.keys()
    html = frame_render(runs=runs, shown=shown, dirty=dirty, templates=templates,
                        csrf_token=_CSRF_SLOT_UNESCAPED)  # fmt: skip
    if met:
        try:
            lab_goals_record(goals={(learner_id, kind, goal) for goal in met})
        except DatabaseError as error:
            log.warning("could not record %d lab goals: %s", len(met), error)
            return ""
        html += goals_met_render(lab, met)
    kept.shown = after
    look = next_look(runs, now=now)
    return f"{'-' if look is None else repr(look)} {sse_event('runs', html, event_id=event_id)}"
