"""What every lab's pages share: the lab page, the answer to a lab's form, predictions, the
index, and the lab's event stream (the frames of its runs as they change: labs/frames.py)."""

import contextlib
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from learners.identity import alearner_id, learner_for, learner_id_for
from learners.progress import lab_goals_record, lab_goals_recorded
from learnsite.htmx import HtmxHttpRequest
from learnsite.hub import Wakeup, event_hub
from learnsite.redis import PoolBusy
from learnsite.streaming import HEARTBEAT_SECONDS, sse_event, sse_response

from .events import (
    Announced,
    aevent_publish,
    aevents_read,
    announced_parse,
    events_read,
    learner_channel,
)
from .fold import STREAM_RESUMED, stream_id_after
from .frames import (
    CSRF_SLOT,
    NOT_KNOWN,
    WAITING_TICK_SECONDS,
    frame_render,
    goals_met_render,
    goals_shown,
    lab_templates,
    next_look,
    shown_after,
)
from .goals import alab_goals_record
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
RECONNECT_MS = 2000
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
    met = lab.goals_met(runs)
    # Goals met by runs whose events did not record them (labs/frames.py: the database was away).
    lab_goals_record(goals={(learner_id, kind, goal) for goal in met - done})
    done |= met
    lesson = request.GET.get("lesson", "")
    question = prediction_question(lab=kind, lesson=lesson)
    page = {
        "lab": lab,
        "lab_kind": kind,
        "runs": runs,
        "goals": goals_shown(lab, done),
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


def _relayable(announced: list[str], *, kind: str, page_id: str) -> list[Announced] | None:
    """The frames ``announced`` carries for lab ``kind`` after ``page_id``, in order, each
    rendered for a page as the one before it left it; None when one of them is not (it carries
    no frame, or a gap in the ids): then the stream reads its record and renders its own."""
    frames: list[Announced] = []
    for data in announced:
        item = announced_parse(data)
        if item is None:
            return None  # another announcer's: it may be of this lab
        if item.lab != kind:
            continue
        if item.previous == page_id and item.frame:
            frames.append(item)
            page_id = item.event_id
        elif stream_id_after(item.event_id, page_id):
            return None
    return frames


async def _event_stream(*, learner_id: str, kind: str, lab: LabKind, after: str, resumed: bool,
                        csrf_token: str) -> AsyncIterator[str | None]:  # fmt: skip
    if resumed:
        await _resume_record(learner_id=learner_id, kind=kind, after=after)
    # Most events come with their frame, rendered where they were recorded (labs/frames.py): the
    # stream sends it on as it is while its page stands where the frame was rendered for.
    # Otherwise it renders its own: its fold takes each event of the record once, and its frames
    # show only the runs that changed since its last. A wake-up never re-reads, re-folds or
    # re-renders the lab's history.
    fold, templates = lab.fold(), lab_templates(kind)
    page_id = after  # the newest event the page shows (NO_EVENT_ID: none)
    folded_id = "-"  # the newest event the fold took; older than page_id after frames sent on
    shown_broker_error, goals_done = None, set()
    shown = NOT_KNOWN
    look = None  # when the runs next change with no event (labs/frames.py next_look)
    vanished_read = False  # the runs Redis lost, looked for once, at the first answer
    read = True  # the record must be read after folded_id (the first time: all of it)
    async with event_hub().listen(learner_channel(learner_id), name=kind) as wakeup:
        while True:
            wakeup.clear()
            if wakeup.ended:  # "Drop my stream": a normal end, so the browser reconnects
                return
            announced, reread = wakeup.take()
            due = look is not None and time.time() >= look
            relayed = None
            if not (read or reread or due):
                relayed = _relayable(announced, kind=kind, page_id=page_id)
                for item in relayed or ():
                    yield item.frame.replace(CSRF_SLOT, csrf_token)
                    page_id, look = item.event_id, item.look
                if relayed is not None:  # sent, or nothing new of this lab
                    # The page shows what other frames made of its runs: the next of the
                    # stream's own is the whole of them.
                    shown = NOT_KNOWN if relayed else shown
                    if not await _woken(wakeup, look):
                        yield None
                    continue
            # The fold reads what it has not taken: events announced without a frame, missed,
            # or sent on as frames. A wake-up that is only a look at the runs reads nothing.
            read = read or reread or folded_id != page_id or (relayed is None and bool(announced))
            new, busy, broker_error = [], False, shown_broker_error
            if read:
                try:
                    new = await aevents_read(learner_id=learner_id, lab=kind, after=folded_id)
                    broker_error, read = "", False
                except PoolBusy:  # this process's connections were all in use: nothing about Redis
                    busy = True
                except (RedisError, OSError):
                    broker_error = BROKER_PAUSED
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
            advanced = False  # an event the page does not show
            for event_id, event in new:
                fold.add(event_id, event)
                folded_id = event_id
                if stream_id_after(event_id, page_id):
                    advanced, page_id = True, event_id
            now = time.time()
            runs = fold.result(now=now, deadline=settings.LAB_RUN_DEADLINE_SECONDS)
            ahead = shown.ahead
            with contextlib.suppress(RedisError, OSError):  # said above; PoolBusy: next tick
                ahead = await aruns_ahead_place(learner_id=learner_id, runs=runs)
            now_shown = shown_after(runs, ahead=ahead, feeds=templates.feeds)
            flagged = shown.flagged(now_shown)
            html, changed = "", advanced or flagged
            if changed:
                html = frame_render(runs=runs, shown=shown, dirty=fold.touched | flagged,
                                    templates=templates, csrf_token=csrf_token)  # fmt: skip
                shown = now_shown
            fold.touched.clear()
            if newly_met := lab.goals_met(runs) - goals_done:  # recorded before shown
                goals_done |= newly_met
                await alab_goals_record(learner_id=learner_id, kind=kind, goals=newly_met)
                html, changed = html + goals_met_render(lab, newly_met), True
            if changed:
                yield sse_event("runs", html, event_id=page_id)
            look = next_look(runs, now=now)
            if busy:  # no connection came free: read from the same id again soon
                look = min(look or math.inf, now + WAITING_TICK_SECONDS)
            if not await _woken(wakeup, look):
                yield None


async def _woken(wakeup: Wakeup, look: float | None) -> bool:
    """Wait for ``wakeup``, at most until ``look`` or a heartbeat is due: False if not woken."""
    seconds = HEARTBEAT_SECONDS if look is None else max(look - time.time(), 0.0)
    return await wakeup.woken(min(seconds, HEARTBEAT_SECONDS))


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
