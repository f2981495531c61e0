"""The routing lab's page and its form: pick a setup, run it."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .fold import FAST_TASKS, SLOW_SECONDS, SLOW_TASKS
from .services import LAB, PROGRAM, SETUP_DETAILS, routing_run_start
from .tasks import routing_run

TEMPLATE = "labs/routing.html"
PAGE_CONTEXT = {
    "setups": SETUP_DETAILS,
    "slow_seconds": SLOW_SECONDS,
    "slow_tasks": SLOW_TASKS,
    "fast_tasks": FAST_TASKS,
    "program": PROGRAM.read_text(),
}


@require_GET
def routing_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=PAGE_CONTEXT)


@require_POST
def routing_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = routing_run_start(
            learner_id=learner_id_for(request),
            setup=request.POST.get("setup", ""),
            task=routing_run,
        )
    except LabError as error:
        return lab_answer(
            request, LAB, partial=f"{TEMPLATE}#result", error=error, page_context=PAGE_CONTEXT
        )
    return lab_answer(request, LAB, partial=f"{TEMPLATE}#result", context={"run_id": run_id})
