from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from labs.pages import RECONNECT_MS, lab_answer, lab_page, lab_started
from labs.services import LabError, lab_run_start, lab_stream_drop
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .tasks import ping_worker


@require_GET
def ping_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, "ping")


@require_POST
def ping_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    return lab_started(
        request, "ping", lambda: lab_run_start(learner_id=learner_id, lab="ping", task=ping_worker)
    )


@require_POST
def ping_drop(request: HtmxHttpRequest) -> HttpResponse:
    """End this learner's open streams of the ping lab: their browsers reconnect by themselves."""
    try:
        lab_stream_drop(learner_id=learner_id_for(request), lab="ping")
    except LabError as error:
        return lab_answer(request, "ping", error=error)
    if not request.htmx:
        return lab_answer(request, "ping")
    return render(request, "labs/ping.html#dropped", {"retry_ms": RECONNECT_MS})
