"""The "blocking listen() trap" lab's page and its one button."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

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
