"""The "blocking listen() trap" lab's page and its one button."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from labs.services import LabError
from labs.views import lab_page
from learnsite.htmx import HtmxHttpRequest
from learnsite.learners import learner_id_for

from .fold import FROZEN_GAP_MS, HEARTBEAT_MS, LIMIT_SECONDS, PUBLISH_AT_SECONDS
from .services import LAB, listen_run_start
from .tasks import listen_trap

TEMPLATE = "labs/listen.html"
PAGE_CONTEXT = {
    "limit_seconds": LIMIT_SECONDS,
    "heartbeat_ms": HEARTBEAT_MS,
    "publish_at": PUBLISH_AT_SECONDS,
    "frozen_gap_ms": FROZEN_GAP_MS,
}


# TEMPORARY: labs.pages.lab_answer (LAYOUT.md, "pages API"), until labs/pages.py is on main;
# then this goes and lab_answer and lab_page are imported from labs.pages.
def lab_answer(request: HtmxHttpRequest, kind: str, *, partial: str = "labs/_start_result.html",
               context: dict | None = None, error: LabError | None = None,
               page_context: dict | None = None) -> HttpResponse:  # fmt: skip
    if not request.htmx:
        if error is not None:
            return lab_page(request, kind, context=page_context, error=error)
        return redirect(f"labs:{kind}")
    context = (context or {}) | {"error": error}
    return render(request, partial, context, status=error.status if error else 200)


@require_GET
def listen_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=PAGE_CONTEXT)


@require_POST
def listen_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = listen_run_start(learner_id=learner_id_for(request), task=listen_trap)
    except LabError as error:
        return lab_answer(
            request, LAB, partial=f"{TEMPLATE}#result", error=error, page_context=PAGE_CONTEXT
        )
    return lab_answer(request, LAB, partial=f"{TEMPLATE}#result", context={"run_id": run_id})
