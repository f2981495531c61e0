"""What every lab's pages share: the lab page, the answer to a lab's form, predictions, the
index, and the lab's event stream (its runs re-rendered as they change)."""

import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jinja2
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template import engines
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from learners.identity import alearner_id, learner_for, learner_id_for
from learners.progress import lab_goals_record, lab_goals_recorded
from learnsite.htmx import HtmxHttpRequest
from learnsite.hub import event_hub
from learnsite.redis import PoolBusy
from learnsite.streaming import HEARTBEAT_SECONDS, sse_event, sse_response

from .events import (
    NO_EVENT_ID,
    aevent_publish,
    aevents_read,
    announced_parse,
    events_read,
    learner_channel,
)
from .fold import (
    STREAM_RESUMED,
    WAITING_HINT_AFTER_SECONDS,
    Event,
    PredictionOutcome,
    Run,
    Runs,
    stream_id_after,
)
from .goals import alab_goals_record, lab_goals_met
from .limits import (
    STREAMS_PER_LEARNER,
    alearner_allows,
    stream_refresh,
    stream_register,
    stream_unregister,
)
from .lost import runs_vanished
from .predictions import prediction_question, prediction_record
from .queues import aruns_ahead_place, runs_ahead_place
from .registry import LAB_KINDS, LabKind
from .services import LabError

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# While a run waits in the queue the stream wakes up this often, to say how many runs are still
# ahead of it (they are other learners' runs: nothing in this learner's events says so).
WAITING_TICK_SECONDS = 1.0
RECONNECT_MS = 2000
# Woken this long after a run's deadline (or its waiting hint's), so that the fold, as of then,
# finds it past it.
LOST_TICK_SLACK = 0.05
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
# Run ids the frames name in a CSS selector as they are; the runs of any other are sent whole.
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Reconnections (Last-Event-ID) of one learner's lab page recorded on their runs, a minute.
RESUMES_RECORDED_PER_MINUTE = 10
BROKER_PAUSED = "The broker (Redis) is not answering: live updates are paused until it is back."


def lab_page(request: HtmxHttpRequest, kind: str, *, context: dict | None = None,
             error: LabError | None = None) -> HttpResponse:  # fmt: skip
    """A lab's page, with the learner's runs of that lab as they stand now, and the prediction
    it asks: the one of the lesson the learner came from (``?lesson=``), if it has one."""
    lab = LAB_KINDS[kind]
    learner_id = learner_id_for(request)
    now = time.time()
    try:
        events = events_read(learner_id=learner_id, lab=kind)
        broker_error = ""
    except (RedisError, OSError):
        events, broker_error = [], BROKER_PAUSED
    else:  # only against what Redis answered: with Redis away, every run would look vanished
        events = runs_vanished(learner_id=learner_id, lab=kind, events=events, now=now) + events
    runs = lab.fold.fold(events, now=now, deadline=settings.LAB_RUN_DEADLINE_SECONDS)
    with contextlib.suppress(RedisError, OSError):  # the page says so already, from the read
        runs_ahead_place(learner_id=learner_id, runs=runs)
    done = {goal for _, goal in lab_goals_recorded(learner=learner_for(request), kind=kind)}
    met = lab_goals_met(lab=lab, runs=runs)
    # Goals met by runs no open page's stream saw through (a stream records them as they come).
    lab_goals_record(goals={(learner_id, kind, goal) for goal in met - done})
    done |= met
    lesson = request.GET.get("lesson", "")
    question = prediction_question(lab=kind, lesson=lesson)
    page = {
        "lab": lab,
        "lab_kind": kind,
        "runs": runs,
        "goals": _goals_shown(lab, done),
        "after": events[-1][0] if events else "0-0",
        "broker_error": broker_error,
        "error": error,
        "prediction": question.current_version if question else None,
        "from_lesson": lesson,
        # Every lesson with this lab asks its prediction here, so its question names the lesson.
        "back_to_lesson": question.lesson if question and question.lesson.slug == lesson else None,
        **(context or {}),
    }
    return render(request, lab.template, page, status=error.status if error else 200)


def _goals_shown(lab: LabKind, done: set[str]) -> list[dict]:
    return [
        {"name": name, "description": goal.description, "done": name in done}
        for name, goal in lab.goals.items()
    ]


def lab_answer(request: HtmxHttpRequest, kind: str, *, partial: str = "labs/_start_result.html",
               context: dict | None = None, error: LabError | None = None,
               page_context: dict | None = None) -> HttpResponse:  # fmt: skip
    """The answer to a lab's form. With htmx: ``partial``, with the error (and its status) if
    there is one. Without: the lab page again with the error, or back to the page."""
    if not request.htmx:
        if error is not None:
            return lab_page(request, kind, context=page_context, error=error)
        return redirect(LAB_KINDS[kind].url_name)
    context = (context or {}) | {"error": error}
    return render(request, partial, context, status=error.status if error else 200)


def lab_started(request: HtmxHttpRequest, kind: str, start: Callable[[], str], *,
                page_context: dict | None = None) -> HttpResponse:  # fmt: skip
    """The answer to a lab's start button: ``start()`` queues the run and returns its id.
    ``page_context``: what the lab's own page needs, for the page an error sends back."""
    try:
        run_id = start()
    except LabError as error:
        return lab_answer(request, kind, error=error, page_context=page_context)
    return lab_answer(request, kind, context={"run_id": run_id})


@require_POST
def lab_predict(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """The learner's prediction, before a run of the lab ``kind``: with htmx, the answer for the
    form's status line; without, back to the lab page (and the lesson it was reached from),
    which shows the same."""
    lab = LAB_KINDS.get(kind)
    if lab is None:
        raise Http404("No such lab.")
    try:
        label = prediction_record(
            learner=learner_for(request),
            lab=kind,
            version_id=request.POST.get("version", ""),
            choice=request.POST.get("choice", ""),
        )
    except LabError as error:
        messages.error(request, error.message)
        status = error.status
    else:
        messages.success(request, f"Prediction recorded: {label}.")
        status = 200
    if request.htmx:
        return render(request, "labs/_prediction.html#result", status=status)
    lesson = request.POST.get("lesson", "")
    url = reverse(lab.url_name)
    return redirect(f"{url}?{urlencode({'lesson': lesson})}" if lesson else url)


@require_GET
def lab_index(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "labs/index.html", {"labs": LAB_KINDS})


@require_GET
async def lab_events(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """One lab's events for this learner as server-sent events: runs re-rendered as they change."""
    lab = LAB_KINDS.get(kind)
    if lab is None:
        raise Http404("No such lab.")
    learner_id = await alearner_id(request)
    if learner_id is None:
        return HttpResponseBadRequest("Open a lab page first: it starts your lab session.")
    # An EventSource sends Last-Event-ID when it reconnects by itself; the page's first
    # connection says where the page it was rendered in stands (?after=). Both are ids in the
    # learner's stream of this lab.
    last_event_id = request.headers.get("Last-Event-ID", "")
    after = last_event_id or request.GET.get("after") or "0-0"
    if not STREAM_ID.fullmatch(after):
        return HttpResponseBadRequest("The event id must look like 1700000000000-0.")
    # The forms in the runs it renders (cancel a run) carry the token too, so that one submitted
    # before htmx has taken it over, as a plain form, is not refused.
    csrf_token = get_token(request)
    stream = _event_stream(
        learner_id=learner_id,
        kind=kind,
        lab=lab,
        after=after,
        resumed=bool(last_event_id),
        csrf_token=csrf_token,
    )
    return await counted_sse_response(learner_id=learner_id, frames=stream, retry_ms=RECONNECT_MS)


async def _resume_record(*, learner_id: str, kind: str, after: str) -> None:
    """Record that a browser came back to the lab's stream with Last-Event-ID ``after``, and how
    many of the lab's events it had missed: the stream's first frame sends them.

    Only so many a minute: a page reconnecting in a loop would otherwise push the learner's runs
    out of their capped stream. Past the limit the stream is served all the same, unrecorded;
    so it is when Redis is away, or when no pooled connection came free in time (PoolBusy)."""
    with contextlib.suppress(RedisError, OSError):  # the stream itself says that Redis is away
        recorded = await alearner_allows(
            learner_id=learner_id, action=f"{kind}-resume", per_minute=RESUMES_RECORDED_PER_MINUTE
        )
        if not recorded:
            return
        missed = await aevents_read(learner_id=learner_id, lab=kind, after=after)
        event = {"kind": STREAM_RESUMED, "lab": kind, "after": after, "replayed": len(missed)}
        await aevent_publish(learner_id=learner_id, lab=kind, event=event)


@dataclass
class _Shown:
    """What a lab page shows of its runs, as its stream's frames so far left it."""

    ids: list[str] | None = None  # newest first; None: as the page was rendered (not known)
    waiting: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    ahead: dict[str, int | None] = field(default_factory=dict)
    prediction: PredictionOutcome | None = None
    feeds: dict[str, list[str]] = field(default_factory=dict)  # each feed's item ids, as ``ids``


def _announced_take(announced: list[str], *, kind: str, last_id: str) -> list[Event] | None:
    """The events of lab ``kind`` that ``announced`` carries after ``last_id``, in order; None
    when one is missing (an announcement that carried none, or a gap in the ids): then the
    stream reads its record instead."""
    events: list[Event] = []
    for data in announced:
        item = announced_parse(data)
        if item is None:
            return None
        if item.lab != kind or (last_id != "-" and not stream_id_after(item.event_id, last_id)):
            continue  # another lab's, or read already
        if item.previous != (NO_EVENT_ID if last_id == "-" else last_id):
            return None
        events.append((item.event_id, item.event))
        last_id = item.event_id
    return events


def _lab_template(name: str, kind: str) -> jinja2.Template | None:
    try:
        return engines["jinja2"].env.get_template(name.format(kind=kind))
    except jinja2.TemplateNotFound:
        return None


def _card_template(kind: str) -> jinja2.Template | None:
    """The lab's card of one run (``CARDS``), or None if it has none: then its runs partial
    shows more than cards, a summary, feeds and the prediction, and every frame is the whole
    partial."""
    return _lab_template(CARDS, kind)


def _summary_template(kind: str) -> jinja2.Template | None:
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


def _slot_render(run: Run, oob: str, *, card: jinja2.Template, csrf_token: str) -> str:
    """One run's ``card`` in its slot, as the page's runs partial puts it in, swapped out of
    band as ``oob`` says."""
    return card.render(run=run, oob=oob, csrf_token=csrf_token)


def _whole_frame(html: str) -> str:
    return f'<div id="runs" hx-swap-oob="innerHTML">{html}</div>'


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


def _changed_items(*, runs: Runs, shown: _Shown, dirty: set[str],
                   feeds: dict[str, Callable[..., str]]) -> str | None:  # fmt: skip
    """The new and changed items of each of the lab's ``feeds`` since ``shown``, as
    ``_changed_cards`` says a lab's runs; None when one of them cannot be said so."""
    parts = []
    for name, item in feeds.items():
        part = _changed_cards(runs=getattr(runs, name), shown=shown.feeds.get(name),
                              dirty=dirty, slot=item, slot_id=f"{name}-{{}}")  # fmt: skip
        if part is None:
            return None
        parts.append(part)
    return "".join(parts)


async def _event_stream(*, learner_id: str, kind: str, lab: LabKind, after: str, resumed: bool,
                        csrf_token: str) -> AsyncIterator[str | None]:  # fmt: skip
    if resumed:
        await _resume_record(learner_id=learner_id, kind=kind, after=after)
    # The fold takes each event once, as it comes, and each frame shows only the runs that
    # changed: a wake-up never re-reads, re-folds or re-renders the lab's history.
    fold, card, summary = lab.fold(), _card_template(kind), _summary_template(kind)
    feeds = _feed_macros(kind)
    runs_partial = get_template(f"{lab.template}#runs")

    def slot(run: Run, oob: str) -> str:
        return _slot_render(run, oob, card=card, csrf_token=csrf_token)

    last_id, shown_broker_error, goals_done = "-", None, set()
    shown = _Shown()
    vanished_read = False  # the runs Redis lost, looked for once, at the first answer
    read = True  # the record must be read after last_id (the first time: all of it)
    # Any of the learner's labs announces on their one channel, each event with its lab: a
    # wake-up takes this lab's new events from the announcements, and reads this lab's stream
    # after the last id only when one is missing there.
    async with event_hub().listen(learner_channel(learner_id), name=kind) as wakeup:
        while True:
            wakeup.clear()
            if wakeup.ended:  # "Drop my stream": a normal end, so the browser reconnects
                return
            announced, reread = wakeup.take()
            new = None if read or reread else _announced_take(announced, kind=kind, last_id=last_id)
            busy, broker_error = False, shown_broker_error
            if new is None:
                read = True
                try:
                    new = await aevents_read(learner_id=learner_id, lab=kind, after=last_id)
                    broker_error, read = "", False
                except PoolBusy:  # this process's connections were all in use: nothing about Redis
                    new, busy = [], True
                except (RedisError, OSError):
                    new, broker_error = [], BROKER_PAUSED
            if broker_error != shown_broker_error:
                context = {"broker_error": broker_error}
                yield sse_event("broker", render_to_string("labs/_broker_status.html", context))
                shown_broker_error = broker_error
            if not (vanished_read or broker_error or busy):
                vanished = await sync_to_async(runs_vanished)(
                    learner_id=learner_id, lab=kind, events=new, now=time.time()
                )
                for event_id, event in vanished:
                    fold.add(event_id, event)
                vanished_read = True
            advanced = False  # an event the page has not shown
            for event_id, event in new:
                fold.add(event_id, event)
                last_id = event_id
                advanced = advanced or stream_id_after(event_id, after)
            runs = fold.result(now=time.time(), deadline=settings.LAB_RUN_DEADLINE_SECONDS)
            waiting = {run.id for run in runs if run.waiting}
            lost = {run.id for run in runs if run.lost}
            ahead = shown.ahead
            with contextlib.suppress(RedisError, OSError):  # said above; PoolBusy: next tick
                ahead = await aruns_ahead_place(learner_id=learner_id, runs=runs)
            flagged = (waiting ^ shown.waiting) | (lost ^ shown.lost)
            flagged |= {run_id for run_id in ahead.keys() | shown.ahead.keys()
                        if ahead.get(run_id) != shown.ahead.get(run_id)}  # fmt: skip
            if advanced or flagged:
                html = None
                if card is not None and runs.prediction == shown.prediction:
                    dirty = fold.touched | flagged
                    html = _changed_cards(runs=runs, shown=shown.ids, dirty=dirty, slot=slot)
                    items = _changed_items(runs=runs, shown=shown, dirty=dirty, feeds=feeds)
                    html = None if html is None or items is None else html + items
                    if html is not None and summary is not None:
                        html += summary.render(runs=runs, oob="true")
                if html is None:
                    context = {"runs": runs, "csrf_token": csrf_token}
                    html = _whole_frame(runs_partial.render(context))
                yield sse_event("runs", html, event_id=last_id)
                shown = _Shown(
                    [run.id for run in runs],
                    waiting,
                    lost,
                    ahead,
                    runs.prediction,
                    {name: [item.id for item in getattr(runs, name)] for name in feeds},
                )
            fold.touched.clear()
            newly_met = lab_goals_met(lab=lab, runs=runs) - goals_done
            if newly_met:
                await alab_goals_record(learner_id=learner_id, kind=kind, goals=newly_met)
                goals_done |= newly_met
                context = {"goals": _goals_shown(lab, goals_done)}
                yield sse_event("goals", render_to_string("labs/_goals.html", context))
            # A queued run's place changes with no event of this learner to say so: look again
            # soon. So does a read that found no free connection: it reads from the same id
            # next time. And a run becomes "waiting" or lost at a time with no event at all:
            # wake up then.
            places = any(run.queued and run.queue and not run.lost for run in runs)
            seconds = WAITING_TICK_SECONDS if places or busy else HEARTBEAT_SECONDS
            due = [run.queued_at + WAITING_HINT_AFTER_SECONDS
                   for run in runs if run.queued and not (run.waiting or run.lost)]  # fmt: skip
            if runs.lost_at is not None:
                due.append(runs.lost_at)
            if due:
                seconds = min(seconds, max(min(due) - time.time(), 0.0) + LOST_TICK_SLACK)
            if not await wakeup.woken(seconds):
                yield None


async def counted_sse_response(*, learner_id: str, frames: AsyncIterator[str | None],
                               retry_ms: int) -> HttpResponse:  # fmt: skip
    """``frames`` as an event stream that counts in the learner's open streams while it is
    open; over STREAMS_PER_LEARNER, a 429 instead, and the stream never starts."""
    try:
        stream_id = await stream_register(learner_id=learner_id)
    except (RedisError, OSError):
        # Not counted: the stream itself will say that Redis is away (or, PoolBusy, nothing,
        # since Redis is fine and the stream reads again until it gets a connection).
        stream_id = ""
    if stream_id is None:
        await frames.aclose()
        message = (
            f"You have {STREAMS_PER_LEARNER} lab pages open (feeds count too), "
            "the limit: close one."
        )
        return HttpResponse(message, status=429)
    counted = _counted(frames, learner_id=learner_id, stream_id=stream_id)
    return sse_response(counted, retry_ms=retry_ms)


async def _counted(frames: AsyncIterator[str | None], *, learner_id: str, stream_id: str
                   ) -> AsyncIterator[str | None]:  # fmt: skip
    """The frames, kept in the learner's count of open streams until it closes (for any
    reason: under ASGI a closed tab cancels the stream at its current await, and ``finally``
    runs)."""
    refreshed = time.monotonic()
    try:
        async for frame in frames:
            if stream_id and time.monotonic() - refreshed > HEARTBEAT_SECONDS:
                refreshed = time.monotonic()
                with contextlib.suppress(RedisError, OSError):
                    await stream_refresh(learner_id=learner_id, stream_id=stream_id)
            yield frame
            del frame  # sent: not held while the stream waits for its next
    finally:
        await frames.aclose()
        if stream_id:
            with contextlib.suppress(RedisError, OSError):
                await stream_unregister(learner_id=learner_id, stream_id=stream_id)
