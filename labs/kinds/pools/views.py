"""The "Worker pools" lab's page and its one form."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from labs.pages import lab_answer, lab_page
from labs.services import LabError
from learners.identity import learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .fold import CONCURRENCIES, POOLS, TASKS, WORKLOADS
from .services import LAB, PROGRAM, pools_run_start
from .tasks import pools_run

TEMPLATE = "labs/pools.html"
PAGE_CONTEXT = {
    "pools": POOLS,
    "concurrencies": CONCURRENCIES,
    "workloads": WORKLOADS,
    "tasks": TASKS,
}


def _page_context() -> dict:
    return PAGE_CONTEXT | {"program": PROGRAM.read_text()}


@require_GET
def pools_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=_page_context())


@require_POST
def pools_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = pools_run_start(
            learner_id=learner_id_for(request),
            pool=request.POST.get("pool", ""),
            concurrency=request.POST.get("concurrency", ""),
            workload=request.POST.get("workload", ""),
            task=pools_run,
        )
    except LabError as error:
        return lab_answer(
            request, LAB, partial=f"{TEMPLATE}#result", error=error, page_context=_page_context()
        )
    return lab_answer(request, LAB, partial=f"{TEMPLATE}#result", context={"run_id": run_id})
