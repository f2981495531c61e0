"""The deploy lab's page and its one button."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .fold import LATE_CHOICES, STOP_AFTER_SECONDS, STOPS, TASK_SECONDS, VISIBILITY_TIMEOUT_SECONDS
from .services import ACL_RULES, LAB, PROGRAM, WORKER_OPTIONS, deploy_run_start
from .tasks import deploy_run


def _page_context() -> dict:
    return {
        "late_choices": LATE_CHOICES,
        "stops": STOPS,
        "task_seconds": TASK_SECONDS,
        "stop_after": STOP_AFTER_SECONDS,
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        "worker_options": " ".join(WORKER_OPTIONS),
        "acl_rules": " ".join(ACL_RULES),
        "program": PROGRAM.read_text(),
    }


@require_GET
def deploy_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=_page_context())


@require_POST
def deploy_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    late, stop = request.POST.get("late", ""), request.POST.get("stop", "")
    try:
        run_id = deploy_run_start(learner_id=learner_id, late=late, stop=stop, task=deploy_run)
    except LabError as error:
        return lab_answer(request, LAB, error=error, page_context=_page_context())
    return lab_answer(request, LAB, context={"run_id": run_id})
