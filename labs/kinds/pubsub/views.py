"""The "Publish and subscribe" lab's pages: send and read, the Python subscriber's buttons, and
each tab's live feed (a Redis subscription of its own, held while the tab is open)."""

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from labs.channels import FEED_RECONNECT_MS, FEED_SECONDS, real_channel
from labs.events import event_publish
from labs.pages import counted_sse_response, lab_answer, lab_page
from labs.services import LabError
from learners.identity import alearner_id, learner_id_for
from learnsite.htmx import HtmxHttpRequest
from learnsite.redis import apubsub_client, redis_url_shareable
from learnsite.streaming import HEARTBEAT_SECONDS, sse_event

from .parse import (
    DEFAULT_SUBSCRIPTION,
    MESSAGE_MAX_CHARS,
    NAME_MAX_CHARS,
    ChannelInvalid,
    Subscription,
    subscription_parse,
)
from .services import (
    LAB,
    SUBSCRIBER_SECONDS,
    VIAS,
    delivery_event,
    feed_subscribe,
    message_read,
    message_send,
    subscriber_run_start,
    subscriber_stop,
)
from .tasks import pubsub_subscriber

TEMPLATE = "labs/pubsub.html"
TAB = re.compile(r"^[0-9a-f]{4}$")
RUN_ID = re.compile(r"^[0-9a-f]{8}$")


def _feed_url(subscription: Subscription, tab: str) -> str:
    query = urlencode({"subscribe": subscription.text, "tab": tab})
    return f"{reverse('streams:pubsub-feed')}?{query}"


def _page_context(subscribe: str) -> tuple[dict, ChannelInvalid | None]:
    """The page's own context for the subscription ``subscribe`` (the default one if it is not
    valid, with why)."""
    try:
        subscription, invalid = subscription_parse(subscribe), None
    except ChannelInvalid as error:
        subscription, invalid = subscription_parse(DEFAULT_SUBSCRIPTION), error
    tab = secrets.token_hex(2)
    context = {
        "subscription": subscription,
        "tab": tab,
        "feed_url": _feed_url(subscription, tab),
        "vias": VIAS,
        "name_max": NAME_MAX_CHARS,
        "message_max": MESSAGE_MAX_CHARS,
        "subscriber_seconds": SUBSCRIBER_SECONDS,
        "feed_minutes": FEED_SECONDS // 60,
    }
    return context, invalid


def _answer(request: HtmxHttpRequest, context: dict | None = None, *,
            error: LabError | None = None) -> HttpResponse:  # fmt: skip
    """The answer to a POST: the result alone for htmx, else the page (or back to it, keeping
    the tab's subscription)."""
    subscribe = request.POST.get("subscribe", DEFAULT_SUBSCRIPTION)
    if not request.htmx and error is None:
        return redirect(f"{reverse('labs:pubsub')}?{urlencode({'subscribe': subscribe})}")
    page_context, _ = _page_context(subscribe)
    return lab_answer(
        request,
        LAB,
        partial=f"{TEMPLATE}#result",
        context=context,
        error=error,
        page_context=page_context,
    )


def take_home_program(*, redis_url: str, learner_id: str, subscription: Subscription) -> str:
    """The classic redis-py subscriber, on the learner's real channels: run on the machine this
    site runs on, it hears what the page publishes (and PUBLISH counts it)."""
    lines = [
        "import redis",
        "",
        f"r = redis.Redis.from_url({redis_url!r}, decode_responses=True)",
        "pubsub = r.pubsub()",
    ]
    if subscription.channels:
        names = ", ".join(repr(real_channel(learner_id, c)) for c in subscription.channels)
        lines.append(f"pubsub.subscribe({names})")
    if subscription.patterns:
        names = ", ".join(repr(real_channel(learner_id, p)) for p in subscription.patterns)
        lines.append(f"pubsub.psubscribe({names})")
    lines += [
        "for message in pubsub.listen():",
        '    print(message["type"], message["channel"], message["data"], flush=True)',
    ]
    return "\n".join(lines) + "\n"


@require_GET
def pubsub_lab(request: HtmxHttpRequest) -> HttpResponse:
    context, invalid = _page_context(request.GET.get("subscribe", DEFAULT_SUBSCRIPTION))
    redis_url = redis_url_shareable(settings.REDIS_URL)
    if redis_url:
        context["take_home_program"] = take_home_program(
            redis_url=redis_url,
            learner_id=learner_id_for(request),
            subscription=context["subscription"],
        )
    return lab_page(request, LAB, context=context, error=invalid)


@require_POST
def pubsub_send(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    via = request.POST.get("via", "pubsub")
    try:
        sent = message_send(
            learner_id=learner_id,
            channel=request.POST.get("channel", ""),
            data=request.POST.get("message", ""),
            via=via,
        )
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"sent": sent, "via": via})


@require_POST
def pubsub_read(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    try:
        read = message_read(
            learner_id=learner_id,
            channel=request.POST.get("channel", ""),
            via=request.POST.get("via", ""),
        )
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"read": read})


@require_POST
def pubsub_subscriber_start(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    try:
        subscription = subscription_parse(request.POST.get("subscribe", ""))
        run_id = subscriber_run_start(
            learner_id=learner_id, subscription=subscription, task=pubsub_subscriber
        )
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"subscriber_run": run_id})


@require_POST
def pubsub_subscriber_stop(request: HtmxHttpRequest) -> HttpResponse:
    learner_id = learner_id_for(request)
    run_id = request.POST.get("run", "")
    try:
        if not RUN_ID.match(run_id):
            raise LabError("A run id is 8 characters from 0-9 and a-f.")
        subscriber_stop(learner_id=learner_id, run_id=run_id)
    except LabError as error:
        return _answer(request, error=error)
    return _answer(request, {"stopping": run_id})


@require_GET
async def pubsub_feed(request: HtmxHttpRequest) -> HttpResponse:
    """This tab's live feed: a Redis subscription of its own, held while the tab is open, whose
    messages come to the tab as server-sent events and are recorded for the lab's page."""
    learner_id = await alearner_id(request)
    if learner_id is None:
        return HttpResponseBadRequest("Open the lab page first: it starts your lab session.")
    tab = request.GET.get("tab", "")
    if not TAB.match(tab):
        return HttpResponseBadRequest("A tab is 4 characters from 0-9 and a-f.")
    try:
        subscription = subscription_parse(request.GET.get("subscribe", ""))
    except ChannelInvalid as error:  # it quotes the name, from the address: escaped
        return HttpResponseBadRequest(escape(error.message))
    frames = _feed(learner_id=learner_id, subscription=subscription, tab=tab)
    return await counted_sse_response(
        learner_id=learner_id, frames=frames, retry_ms=FEED_RECONNECT_MS
    )


def _feed_html(part: str, **context) -> str:
    return render_to_string(f"{TEMPLATE}#{part}", context)


async def _feed(*, learner_id: str, subscription: Subscription, tab: str
                ) -> AsyncIterator[str | None]:  # fmt: skip
    """The feed's frames; None when it waited HEARTBEAT_SECONDS for a message in vain."""
    client = apubsub_client()
    pubsub = client.pubsub()
    record = sync_to_async(event_publish, thread_sensitive=False)
    loop = asyncio.get_running_loop()
    try:
        try:
            await feed_subscribe(pubsub, learner_id=learner_id, subscription=subscription)
        except (RedisError, OSError):
            status = _feed_html("feed-status", state="down", subscription=subscription, tab=tab)
            yield sse_event("subscribed", status)
            return
        status = _feed_html("feed-status", state="subscribed", subscription=subscription, tab=tab)
        yield sse_event("subscribed", status)
        closes_at = loop.time() + FEED_SECONDS
        while loop.time() < closes_at:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS
            )
            if not message or message["type"] not in {"message", "pmessage"}:
                yield None
                continue
            delivery = delivery_event(learner_id, message, subscriber=f"tab {tab}")
            with contextlib.suppress(RedisError, OSError):
                await record(learner_id=learner_id, lab=LAB, event=delivery)
            yield sse_event("received", _feed_html("feed-item", item=delivery))
        closed = _feed_html("feed-status", state="closed", subscription=subscription, tab=tab)
        yield sse_event("feed-closed", closed)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()
            await client.aclose()
