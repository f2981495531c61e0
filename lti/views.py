"""The tool's endpoints: OIDC login initiation, launch, deep-linking choice and JWKS.

Launches open in a window of their own: the site forbids framing (``frame-ancestors
'none'``), so the platform is told to open the tool in a new window, and pylti1p3's
cookie-check page (inline script, which the site's CSP forbids, only useful in a frame) is
never sent.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from lti_tool.models import LtiLaunch
from pylti1p3.contrib.django import DjangoOIDCLogin
from pylti1p3.exception import OIDCException

from lessons.models import Lesson

from .services import (
    MODES,
    deep_link_answer,
    launch_accept,
    launch_is_placing,
    launch_placement,
    placement_for,
)
from .tool import LaunchRefused, ToolConfig, launch_restore, launch_storage, launch_validate

DEEP_LINK_SESSION_KEY = "lti_deep_link_launch"
TARGET_LINK_URI = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"


def _refused(request: HttpRequest, refusal: LaunchRefused) -> HttpResponse:
    return render(request, "lti/refused.html", {"message": refusal.message}, status=refusal.status)


@csrf_exempt  # the platform posts here; the state and nonce stand for the CSRF token
@require_http_methods(["GET", "POST"])
def oidc_login(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    target = params.get("target_link_uri", "")
    launch_url = request.build_absolute_uri(reverse("lti:launch"))
    # Only ever back to our own launch URL (the redirect URI registered on the platform):
    # where a link goes is in its custom parameters, not in its address.
    if urlsplit(target)[1:3] != urlsplit(launch_url)[1:3]:
        message = (
            f"This login must target the tool's launch URL, {launch_url}, not '{target[:200]}'."
        )
        return _refused(request, LaunchRefused(message, status=400))
    login = DjangoOIDCLogin(request, ToolConfig(), launch_data_storage=launch_storage())
    try:
        return login.redirect(target)  # as registered on the platform (https behind a proxy)
    except OIDCException as error:
        message = (
            f"This login cannot start: {error}. The platform's issuer and client id must match "
            "an active registration in the admin."
        )
        return _refused(request, LaunchRefused(message, status=400))


@csrf_exempt  # the platform's form posts the signed id_token; it is checked instead
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    try:
        lti_launch = launch_validate(request=request)
        placement = launch_placement(lti_launch=lti_launch)
        if lti_launch.is_deep_link_launch and not launch_is_placing(lti_launch=lti_launch):
            raise LaunchRefused("Only an instructor of the course can place content from here.")
        if not (lti_launch.is_resource_launch or lti_launch.is_deep_link_launch):
            raise LaunchRefused("This tool answers resource links and deep linking only.")
    except LaunchRefused as refusal:
        return _refused(request, refusal)
    try:
        attempt = launch_accept(request=request, lti_launch=lti_launch, placement=placement)
    except LaunchRefused as refusal:
        request.session.flush()  # the sign-in was rolled back with the rest
        return _refused(request, refusal)
    if lti_launch.is_deep_link_launch:
        request.session[DEEP_LINK_SESSION_KEY] = lti_launch.get_launch_id()
        return redirect("lti:deep-link")
    if attempt is not None:
        return redirect("quiz:attempt", pk=attempt.pk)
    if placement.lesson is not None:
        return redirect("lessons:lesson", slug=placement.lesson.slug)
    return redirect("lessons:home")


def _deep_link_launch(request: HttpRequest) -> LtiLaunch:
    launch_id = request.session.get(DEEP_LINK_SESSION_KEY)
    if not launch_id:
        raise LaunchRefused(
            "There is no deep-linking request in this session: start it from your course.",
            status=400,
        )
    return launch_restore(request=request, launch_id=launch_id)


@require_http_methods(["GET", "POST"])
def deep_link(request: HttpRequest) -> HttpResponse:
    """The instructor picks a lesson, its quiz or its test; the signed choice goes back to
    the platform's deep-linking return URL."""
    try:
        lti_launch = _deep_link_launch(request)
    except LaunchRefused as refusal:
        return _refused(request, refusal)
    lessons = Lesson.objects.active().select_related("course")
    context = {"lessons": lessons, "modes": MODES, "error": ""}
    if request.method == "GET":
        return render(request, "lti/deep_link.html", context)
    try:
        placement = placement_for(
            lesson_slug=request.POST.get("lesson", ""), mode=request.POST.get("mode", "")
        )
    except LaunchRefused as refusal:
        return render(
            request, "lti/deep_link.html", context | {"error": refusal.message}, status=400
        )
    if placement.lesson is None:
        context["error"] = "Choose a lesson."
        return render(request, "lti/deep_link.html", context, status=400)
    # The link goes to the URL the platform launched this request at (the launch URL as
    # registered there, https behind a proxy too): the one redirect URI the tool has.
    launch_url = lti_launch.get_claim(TARGET_LINK_URI) or request.build_absolute_uri(
        reverse("lti:launch")
    )
    return_url, jwt = deep_link_answer(
        lti_launch=lti_launch, placement=placement, launch_url=launch_url
    )
    del request.session[DEEP_LINK_SESSION_KEY]  # one answer per request
    response = render(request, "lti/deep_link_return.html", {"return_url": return_url, "jwt": jwt})
    # This page's form posts the signed choice to the platform: allow the platform's origin
    # (not only its return URL: browsers check where that answer redirects too).
    scheme, netloc = urlsplit(return_url)[:2]
    response._csp_config = settings.SECURE_CSP | {"form-action": [CSP.SELF, f"{scheme}://{netloc}"]}
    return response
