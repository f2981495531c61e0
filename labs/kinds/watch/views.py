"""The "watch a live system" lab's page and its one form: a burst size and an alert threshold,
each chosen from a fixed list."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .fold import (
    ALERT_FOR_MS,
    BURST_DEFAULT,
    BURSTS,
    CONCURRENCY,
    SAMPLE_SECONDS,
    TASK_SECONDS,
    THRESHOLD_DEFAULT,
    THRESHOLDS,
)
from .services import LAB, PROGRAM, watch_run_start
from .tasks import watch_run

TEMPLATE = "labs/watch.html"


def _page_context() -> dict:
    return {
        "bursts": BURSTS,
        "thresholds": THRESHOLDS,
        "burst_default": BURST_DEFAULT,
        "threshold_default": THRESHOLD_DEFAULT,
        "task_seconds": TASK_SECONDS,
        "concurrency": CONCURRENCY,
        "sample_seconds": SAMPLE_SECONDS,
        "alert_for_seconds": ALERT_FOR_MS / 1000,
        "program": PROGRAM.read_text(),
    }


@require_GET
def watch_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=_page_context())


@require_POST
def watch_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = watch_run_start(
            learner_id=learner_id_for(request),
            task=watch_run,
            burst=request.POST.get("burst", ""),
            threshold=request.POST.get("threshold", ""),
        )
    except LabError as error:
        return lab_answer(
            request, LAB, partial=f"{TEMPLATE}#result", error=error, page_context=_page_context()
        )
    return lab_answer(request, LAB, partial=f"{TEMPLATE}#result", context={"run_id": run_id})
