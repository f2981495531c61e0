from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from labs.channels import FEED_RECONNECT_MS
from labs.pages import counted_sse_response, lab_page
from labs.services import BrokerUnavailable, RateLimited
from learners.identity import alearner_id, learner_id_for
from learnsite.htmx import HtmxHttpRequest

from . import commands, parse
from .feed import TEMPLATE, console_feed_frames
from .services import COMMANDS_PER_MINUTE, LAB, console_execute


def _page(learner_id: str) -> dict:
    return {
        "key_prefix": commands.console_key(learner_id, ""),
        "channel_prefix": commands.console_channel(learner_id, ""),
        "allowed": parse.ALLOWED,
        "limits": {
            "per_minute": COMMANDS_PER_MINUTE,
            "keys": commands.MAX_KEYS,
            "entries": commands.MAX_ENTRIES,
            "read": parse.READ_MAX,
            "block": parse.BLOCK_MAX_SECONDS,
            "ttl": parse.KEY_TTL_SECONDS,
            "line": parse.MAX_LINE_BYTES,
            "value": parse.MAX_VALUE_BYTES,
            "name": parse.MAX_NAME_BYTES,
            "subscriptions": commands.MAX_SUBSCRIPTIONS,
            "groups": commands.MAX_GROUPS,
            "consumers": commands.MAX_CONSUMERS,
        },
    }


@require_GET
def console_lab(request: HtmxHttpRequest) -> HttpResponse:
    return lab_page(request, LAB, context=_page(learner_id_for(request)))


@require_POST
def console_run(request: HtmxHttpRequest) -> HttpResponse:
    """One line typed in the console: with htmx, its reply to append to the transcript;
    without, the page again, with the line and its reply at the end of the transcript.

    Not labs.pages.lab_answer: the reply is appended (a refused line is an answer too, not an
    error), the page is reached again at its console (#console), and a line Redis would not
    keep is shown once on the page without being an error."""
    learner_id = learner_id_for(request)
    reply = console_execute(learner_id=learner_id, line=request.POST.get("line", ""))
    if request.htmx:
        return render(request, f"{TEMPLATE}#entry", {"entry": reply}, status=reply.http_status)
    if reply.recorded:
        return redirect(reverse("labs:console") + "#console")
    # Not kept (over the rate limit, Redis away): shown this once, at the end of the transcript.
    error_class = {429: RateLimited, 503: BrokerUnavailable}.get(reply.http_status)
    error = error_class(reply.text.removeprefix("(error) ")) if error_class else None
    return lab_page(request, LAB, context=_page(learner_id) | {"reply": reply}, error=error)


@require_GET
async def console_feed(request: HtmxHttpRequest) -> HttpResponse:
    """This page's feed: a Redis subscription to the learner's console subscriptions, held while
    the page is open, whose messages come to the transcript as server-sent events."""
    learner_id = await alearner_id(request)
    if learner_id is None:
        return HttpResponseBadRequest("Open the console first: it starts your lab session.")
    frames = console_feed_frames(learner_id=learner_id)
    return await counted_sse_response(
        learner_id=learner_id, frames=frames, retry_ms=FEED_RECONNECT_MS
    )
