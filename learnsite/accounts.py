"""Accounts: sign up, log in, log out (Django auth).

An anonymous learner's progress lives on a ``learners.Learner`` found through the session; signing
up or logging in hands it to the account (``learner_adopt``). Lessons read are kept in the
session, which Django keeps (under a new key) when someone logs in.
"""

import hashlib
import logging

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from redis.exceptions import RedisError

from learners.identity import learner_adopt

from .redis import redis_client, window_count

log = logging.getLogger(__name__)

NEXT_FIELD = auth.REDIRECT_FIELD_NAME
# Failed logins allowed per username in a window; past it, passwords are not even tried, so a
# password cannot be guessed faster than this. Counted in Redis, so every web process agrees.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
LOGIN_LOCKED = (
    "Too many failed attempts to log in to this account. Wait 15 minutes, then try again."
)


def _safe_next(request: HttpRequest) -> str:
    """The ``next`` of the form or the query string if it stays on this site, else ""."""
    url = request.POST.get(NEXT_FIELD) or request.GET.get(NEXT_FIELD, "")
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else ""


def _form_page(request: HttpRequest, template: str, form) -> HttpResponse:
    if form.non_field_errors():
        # A wrong username or password is the form's error, not one field's: every input
        # points at it, so a screen reader reads it with the field.
        for field in form.fields.values():
            field.widget.attrs["aria-describedby"] = "form-errors"
            field.widget.attrs["aria-invalid"] = "true"
    return render(request, template, {"form": form, "next": _safe_next(request)})


def _sign_in(request: HttpRequest, user) -> HttpResponse:
    """Log in, hand the session's anonymous progress to the account, and go on."""
    auth.login(request, user)
    learner_adopt(request=request, user=user)
    return redirect(_safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _sign_in(request, form.save())
    return _form_page(request, "accounts/signup.html", form)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST":
        failures_key = _login_failures_key(request.POST.get("username", ""))
        if _login_failures(failures_key) >= LOGIN_FAILURES_ALLOWED:
            # Without the password, so that it is not even checked.
            username = request.POST.get("username", "")
            form = AuthenticationForm(request, data={"username": username})
            form.errors.clear()  # "this field is required": the password left out above
            form.add_error(None, LOGIN_LOCKED)
        elif form.is_valid():
            return _sign_in(request, form.get_user())
        else:
            _login_failure_count(failures_key)
    return _form_page(request, "accounts/login.html", form)


def _login_failures_key(username: str) -> str:
    # Hashed: a key name is no place for what someone typed.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"learnsite:login-failures:{digest}"


def _login_failures(key: str) -> int:
    try:
        return int(redis_client().get(key) or 0)
    except RedisError:
        # Logging in must not depend on Redis; the limit is back when Redis is.
        log.warning("Redis is unavailable: login attempts are not limited now")
        return 0


def _login_failure_count(key: str) -> None:
    try:
        window_count(key=key, window_seconds=LOGIN_FAILURE_WINDOW_SECONDS)
    except RedisError:
        log.warning("Redis is unavailable: a failed login was not counted")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out and forget the session, learner included: the next visitor starts afresh."""
    auth.logout(request)
    return redirect(settings.LOGIN_REDIRECT_URL)
