"""Accounts: sign up, log in, log out (Django auth).

An anonymous learner's progress lives on a ``learners.Learner`` found through the session; signing
up or logging in hands it to the account (``learner_adopt``). Lessons read are kept in the
session, which Django keeps (under a new key) when someone logs in.
"""

import hashlib
import logging
from functools import partial

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
# Password checks (a login or a sign-up: each hashes a password, about a third of a second of a
# core) from one client address in a window; past it, none is tried. Enough for a class signing
# in together behind one school address; too few for one client to keep the web processes
# hashing (at most some 70 s of CPU in the window).
PASSWORD_CHECKS_PER_ADDRESS = 200
PASSWORD_CHECK_WINDOW_SECONDS = 10 * 60
ADDRESS_BUSY = (
    "Too many sign-ins and sign-ups from your network in the last few minutes. Wait 10 minutes, "
    "then try again."
)


def _safe_next(request: HttpRequest) -> str:
    """The ``next`` of the form or the query string if it stays on this site, else ""."""
    url = request.POST.get(NEXT_FIELD) or request.GET.get(NEXT_FIELD, "")
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else ""


def _form_page(request: HttpRequest, template: str, form, *, status: int = 200) -> HttpResponse:
    if form.non_field_errors():
        # A wrong username or password is the form's error, not one field's: every input
        # points at it, so a screen reader reads it with the field.
        for field in form.fields.values():
            field.widget.attrs["aria-describedby"] = "form-errors"
            field.widget.attrs["aria-invalid"] = "true"
    return render(request, template, {"form": form, "next": _safe_next(request)}, status=status)


def _form_refused(form_class, request: HttpRequest, message: str):
    """The form (``form_class(data=...)``) again with only the username sent, and ``message``
    as its error: no password of it is checked, nor asked for again as a missing field."""
    form = form_class(data={"username": request.POST.get("username", "")})
    form.errors.clear()
    form.add_error(None, message)
    return form


def _sign_in(request: HttpRequest, user) -> HttpResponse:
    """Log in, hand the session's anonymous progress to the account, and go on."""
    auth.login(request, user)
    learner_adopt(request=request, user=user)
    return redirect(_safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and not _password_check_allowed(request):
        form = _form_refused(UserCreationForm, request, ADDRESS_BUSY)
        return _form_page(request, "accounts/signup.html", form, status=429)
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
            form = _form_refused(partial(AuthenticationForm, request), request, LOGIN_LOCKED)
        elif not _password_check_allowed(request):
            form = _form_refused(partial(AuthenticationForm, request), request, ADDRESS_BUSY)
            return _form_page(request, "accounts/login.html", form, status=429)
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


def _password_check_allowed(request: HttpRequest) -> bool:
    """Count one password check from the request's client address; False past the limit."""
    key = f"learnsite:password-checks:{request.META.get('REMOTE_ADDR', '')}"
    try:
        return window_count(key=key, window_seconds=PASSWORD_CHECK_WINDOW_SECONDS) <= (
            PASSWORD_CHECKS_PER_ADDRESS
        )
    except RedisError:
        # Signing in must not depend on Redis; the limit is back when Redis is.
        log.warning("Redis is unavailable: password checks are not limited now")
        return True


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
