"""The "When Redis fails" lab's page and its start button (one form per experiment)."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .fold import CRASH_MODES, JOBS, MAXMEMORY, MEMORY_JOBS, MEMORY_MODES, SUBSCRIBERS
from .services import LAB, failure_run_start
from .tasks import failure_run

TEMPLATE = "labs/failure.html"
PAGE_CONTEXT = {
    "crash_modes": CRASH_MODES,
    "memory_modes": MEMORY_MODES,
    "jobs": JOBS,
    "memory_jobs": MEMORY_JOBS,
    "maxmemory": MAXMEMORY,
    "subscribers": SUBSCRIBERS,
}


@require_GET
def failure_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=PAGE_CONTEXT)


@require_POST
def failure_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = failure_run_start(
            learner_id=learner_id_for(request), mode=request.POST.get("mode", ""), task=failure_run
        )
    except LabError as error:
        return lab_answer(request, LAB, error=error, page_context=PAGE_CONTEXT)
    return lab_answer(request, LAB, context={"run_id": run_id})
