"""Accounts: sign up, log in, log out (Django auth).

An anonymous learner's progress lives on a ``quiz.Learner`` found through the session; signing
up or logging in hands it to the account (``learner_adopt``). Lessons read are kept in the
session, which Django keeps (under a new key) when someone logs in.
"""

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from .learners import learner_adopt

NEXT_FIELD = auth.REDIRECT_FIELD_NAME


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
    if request.method == "POST" and form.is_valid():
        return _sign_in(request, form.get_user())
    return _form_page(request, "accounts/login.html", form)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out and forget the session, learner included: the next visitor starts afresh."""
    auth.logout(request)
    return redirect(settings.LOGIN_REDIRECT_URL)
