"""The lifecycle lab's page and its buttons: start a task, start a chain or group, cancel."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page, lab_started
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from . import services, tasks
from .fold import BEHAVIOURS, LAB, SHAPES

CANCEL_RESULT = "labs/lifecycle.html#cancel-result"
PAGE_CONTEXT = {
    "behaviours": BEHAVIOURS,
    "shapes": SHAPES,
    "soft_time_limit": tasks.lifecycle_task.soft_time_limit,
    "max_retries": tasks.lifecycle_task.max_retries,
}


@require_GET
def lifecycle_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=PAGE_CONTEXT)


@require_POST
def lifecycle_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    behaviour = request.POST.get("behaviour", "")
    return lab_started(
        request,
        LAB,
        lambda: services.lifecycle_run_start(learner_id=learner_id, behaviour=behaviour),
        page_context=PAGE_CONTEXT,
    )


@require_POST
def lifecycle_canvas(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    shape = request.POST.get("shape", "")
    return lab_started(
        request,
        LAB,
        lambda: services.lifecycle_canvas_start(learner_id=learner_id, shape=shape),
        page_context=PAGE_CONTEXT,
    )


@require_POST
def lifecycle_cancel(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    try:
        run = services.lifecycle_run_cancel(
            learner_id=learner_id, run_id=request.POST.get("run", "")
        )
    except LabError as error:
        return lab_answer(
            request, LAB, partial=CANCEL_RESULT, error=error, page_context=PAGE_CONTEXT
        )
    return lab_answer(request, LAB, partial=CANCEL_RESULT, context={"cancelled": run})
