"""Views of the "Offload the slow email" lab.

The send views are plain (sync) function views: under ASGI Django runs each on a thread of its
own, so a send that waits on the mail server's socket never blocks the site's event loop.
"""

import threading
import time
from collections.abc import Callable

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError, lab_run_start
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .services import (
    LAB,
    LATENCY_DEFAULT_MS,
    LATENCY_INVALID,
    LATENCY_MAX_MS,
    LATENCY_MIN_MS,
    lab_email_answered,
    lab_email_send_now,
)
from .tasks import send_email

TEMPLATE = "labs/email.html"
STARTED = f"{TEMPLATE}#started"  # the answer to a send button, with htmx
PAGE = {
    "latency_min": LATENCY_MIN_MS,
    "latency_max": LATENCY_MAX_MS,
    "latency_default": LATENCY_DEFAULT_MS,
}


class LatencyForm(forms.Form):
    latency_ms = forms.IntegerField(min_value=LATENCY_MIN_MS, max_value=LATENCY_MAX_MS)


def _latency_ms(request: HtmxHttpRequest) -> int:
    form = LatencyForm(request.POST)
    if not form.is_valid():
        raise LabError(LATENCY_INVALID)
    return form.cleaned_data["latency_ms"]


def _timed(response: HttpResponse, started: float) -> float:
    """Sets the Server-Timing header (shown in the browser's network panel); returns the ms."""
    elapsed_ms = (time.perf_counter() - started) * 1000
    response["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return elapsed_ms


def _answer(request: HtmxHttpRequest, *, mode: str, start: Callable[[str], dict]) -> HttpResponse:
    """The answer to a send button: ``start(learner_id)`` sends or queues the email and returns
    what to show. The whole view is timed, and the run records its server time."""
    started = time.perf_counter()
    learner_id = learner_id_for(request)
    try:
        result = start(learner_id)
    except LabError as error:
        run_id = getattr(error, "run_id", "")  # a send that failed is a run too
        context = {"run_id": run_id}
        response = lab_answer(
            request, LAB, partial=STARTED, context=context, error=error, page_context=PAGE
        )
    else:
        run_id = result["run_id"]
        response = lab_answer(request, LAB, partial=STARTED, context={"mode": mode, **result})
    request_ms = _timed(response, started)
    if run_id:
        lab_email_answered(learner_id=learner_id, run_id=run_id, request_ms=round(request_ms))
    return response


@require_GET
def email_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=PAGE)


@require_POST
def email_send_now(request: HtmxHttpRequest) -> HttpResponse:
    def start(learner_id: str) -> dict:
        latency_ms = _latency_ms(request)
        sent = lab_email_send_now(learner_id=learner_id, latency_ms=latency_ms)
        return {"run_id": sent.run_id, "send_ms": sent.send_ms, "latency_ms": latency_ms}

    return _answer(request, mode="sync", start=start)


@require_POST
def email_send_background(request: HtmxHttpRequest) -> HttpResponse:
    def start(learner_id: str) -> dict:
        latency_ms = _latency_ms(request)
        options = {"latency_ms": latency_ms}
        run_id = lab_run_start(learner_id=learner_id, lab=LAB, task=send_email, options=options)
        return {"run_id": run_id, "latency_ms": latency_ms}

    return _answer(request, mode="background", start=start)


@require_GET
def email_ping(request: HtmxHttpRequest) -> HttpResponse:
    """A tiny, fast answer, to see what a slow send holds up (its round trip is timed in the
    browser). It counts the web process's threads: a send that waits holds one of them."""
    started = time.perf_counter()
    pong = {"threads": threading.active_count()}
    if request.htmx:
        response = render(request, f"{TEMPLATE}#pong", {"pong": pong})
    else:
        response = lab_page(request, LAB, context=PAGE | {"pong": pong})
    response["Cache-Control"] = "no-store"
    _timed(response, started)
    return response
