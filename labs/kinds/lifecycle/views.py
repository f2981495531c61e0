"""The lifecycle lab's page and its buttons: start a task, start a chain or group, cancel."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from learnsite.learners import learner_id_for

from labs.services import LabError
from labs.views import lab_page, lab_started  # labs.pages once the lead's pages.py lands
from learnsite.htmx import HtmxHttpRequest

from . import services, tasks
from .fold import BEHAVIOURS, LAB, SHAPES


@require_GET
def lifecycle_lab(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "behaviours": BEHAVIOURS,
        "shapes": SHAPES,
        "soft_time_limit": tasks.lifecycle_task.soft_time_limit,
        "max_retries": tasks.lifecycle_task.max_retries,
    }
    return lab_page(request, LAB, context=context)


@require_POST
def lifecycle_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    behaviour = request.POST.get("behaviour", "")
    return lab_started(
        request,
        LAB,
        lambda: services.lifecycle_run_start(learner_id=learner_id, behaviour=behaviour),
    )


@require_POST
def lifecycle_canvas(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    shape = request.POST.get("shape", "")
    return lab_started(
        request, LAB, lambda: services.lifecycle_canvas_start(learner_id=learner_id, shape=shape)
    )


@require_POST
def lifecycle_cancel(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    # TEMPORARY branch: becomes labs.pages.lab_answer(request, LAB,
    # partial="labs/lifecycle.html#cancel-result", context={"cancelled": run}, error=error)
    # once the lead's pages.py lands.
    try:
        run = services.lifecycle_run_cancel(
            learner_id=learner_id, run_id=request.POST.get("run", "")
        )
    except LabError as error:
        if not request.htmx:
            return lab_page(request, LAB, error=error)
        context = {"error": error}
        return render(request, "labs/lifecycle.html#cancel-result", context, status=error.status)
    if not request.htmx:
        return redirect("labs:lifecycle")
    return render(request, "labs/lifecycle.html#cancel-result", {"cancelled": run})
