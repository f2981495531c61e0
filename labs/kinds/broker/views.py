"""Views of the "Inside the broker" lab: its page, its start button, and the "Inside Redis" part
the page reads again while a run is in flight (what Redis holds is read in services.py)."""

import re

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from labs.limits import learner_allows
from labs.pages import BROKER_PAUSED, lab_answer, lab_page
from labs.services import LabError, lab_run_start
from learners.identity import SESSION_KEY, learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .services import (
    HOLD_SECONDS,
    LAB,
    SPECIMEN_STEP_SECONDS,
    SPECIMEN_STEPS,
    RunNotFound,
    broker_found_record,
    broker_snapshot,
)
from .tasks import broker_specimen

RUN_ID = re.compile(r"^[0-9a-f]{8,32}$")
SEEN = re.compile(r"^[0-9a-f]{16}$")
# A page polls once a second while a run is in flight; this leaves room for a second tab.
SNAPSHOTS_PER_MINUTE = 120
SNAPSHOTS_LIMITED = "Redis is being read for you too often (more than two tabs?): paused a moment."
HOLD_CHOICES = {"0": 0, str(HOLD_SECONDS): HOLD_SECONDS}
BAD_RUN_ID = "A run id is 8 to 32 characters from 0-9 and a-f."


def _run_param(request: HtmxHttpRequest) -> str | None:
    """The ``run`` query parameter: None when absent; ValueError when malformed."""
    run_id = request.GET.get("run", "")
    if run_id and not RUN_ID.match(run_id):
        raise ValueError(run_id)
    return run_id or None


def _inspector(*, learner_id: str, run_id: str | None) -> tuple[dict, int]:
    """The context of the page's "Inside Redis" part, and its HTTP status.

    Raises Http404 when ``run_id`` is not one of the learner's runs of this lab.
    """
    context = {"focus": run_id or "", "snapshot": None, "inspector_error": ""}
    try:
        allowed = learner_allows(
            learner_id=learner_id, action=f"{LAB}-read", per_minute=SNAPSHOTS_PER_MINUTE
        )
        if not allowed:
            return context | {"inspector_error": SNAPSHOTS_LIMITED}, 429
        context["snapshot"] = broker_snapshot(learner_id=learner_id, run_id=run_id)
        broker_found_record(learner_id=learner_id, snapshot=context["snapshot"])
    except RunNotFound:
        raise Http404("None of your recent runs of this lab has that id.") from None
    except (RedisError, OSError):
        return context | {"inspector_error": BROKER_PAUSED}, 503
    return context, 200


@require_GET
def broker_lab(request: HtmxHttpRequest) -> HttpResponse:
    try:
        run_id = _run_param(request)
    except ValueError:
        return HttpResponseBadRequest(BAD_RUN_ID)
    return lab_page(request, LAB, context=_page_context(request, run_id=run_id))


def _page_context(request: HtmxHttpRequest, *, run_id: str | None = None) -> dict:
    """The lab page's own context: what Redis holds for the learner (``run_id``'s, if given)."""
    context, _status = _inspector(learner_id=learner_id_for(request), run_id=run_id)
    specimen_seconds = round(SPECIMEN_STEPS * SPECIMEN_STEP_SECONDS)
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    context |= {"specimen_seconds": specimen_seconds, "visibility_timeout_seconds": visibility}
    return context


@require_POST
def broker_start(request: HtmxHttpRequest) -> HttpResponse:
    hold = request.POST.get("hold", "0")
    try:
        if hold not in HOLD_CHOICES:
            raise LabError(f"Choose no countdown or a {HOLD_SECONDS} s countdown.")
        # Sent from the view, as the email lab's background send is: the task's module
        # imports the services, so they do not import it.
        run_id = lab_run_start(learner_id=learner_id_for(request), lab=LAB,
                               task=broker_specimen, countdown=HOLD_CHOICES[hold])  # fmt: skip
    except LabError as error:
        # Without htmx, the whole page again: read only then.
        page_context = None if request.htmx else _page_context(request)
        return lab_answer(request, LAB, error=error, page_context=page_context)
    response = lab_answer(request, LAB, context={"run_id": run_id})
    if request.htmx:
        response["HX-Trigger"] = "broker-queued"  # the page reads Redis for the new run at once
    return response


@require_GET
def broker_read(request: HtmxHttpRequest) -> HttpResponse:
    """The "Inside Redis" part alone, read again: the page polls it while a run is in flight.

    204 when nothing changed since the read the page shows (``seen``), so that a reader's
    selection or scroll position is not swept away every second.
    """
    try:
        run_id = _run_param(request)
    except ValueError:
        return HttpResponseBadRequest(BAD_RUN_ID)
    learner_id = request.session.get(SESSION_KEY)
    if learner_id is None:
        return HttpResponseBadRequest("Open the lab page first: it starts your lab session.")
    context, status = _inspector(learner_id=learner_id, run_id=run_id)
    snapshot = context["snapshot"]
    seen = request.GET.get("seen", "")
    if snapshot is not None and SEEN.match(seen) and seen == snapshot.fingerprint:
        return HttpResponse(status=204)
    return render(request, "labs/broker.html#inspector", context, status=status)
