"""The JSON API for scripted quiz answers: start an attempt, answer, submit, read the result.

Plain function views. Grading and every rule about what may be answered live in
``quiz.services``; this module reads the request, checks only the shape of its JSON, calls the
service and writes the answer. The OpenAPI description is ``quiz/openapi.py``.

Who is asking:
- ``Authorization: Bearer <token>``: a token from ``manage.py api_token <username>``, signed
  with the site's key. It names the user, lasts ``TOKEN_MAX_AGE`` and stops working when the
  user's password changes or the account is deactivated. No CSRF check: a token is not sent
  by a browser on its own.
- Otherwise the browser session, with Django's CSRF check on POST, and only for a session that
  already has a learner (it has used the site) or a logged-in user. The API never creates an
  anonymous learner: a request with neither gets 401.

What the answer reveals: a question's right options, feedback and solution are sent only once
it is answered (practice, review) or the attempt is finished (quiz, test).
"""

import json
import re
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.csrf import csrf_exempt

from learners.identity import SESSION_KEY, learner_for, learner_for_user
from learners.models import Learner
from lessons.models import Lesson

from .models import Attempt, AttemptQuestion
from .openapi import OPENAPI
from .services import (
    SubmissionError,
    attempt_answer,
    attempt_start,
    attempt_submit,
    breakdown,
    verdict,
)

TOKEN_SALT = "quiz.api.token"  # noqa: S105 (a namespace for the signature, not a secret)
TOKEN_MAX_AGE = timedelta(days=90)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_ID = 2**63 - 1  # larger numbers cannot name a row (SQLite and PostgreSQL bigint)
MAX_POSITION = 2**31 - 1
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")
POSITION_KEY = re.compile(r"[1-9][0-9]{0,8}")


class BadRequest(Exception):
    """A request whose JSON is not the shape the endpoint takes."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Tokens


def _password_mark(user) -> str:
    # Part of the signed value, so that a new password ends every token issued before it.
    return salted_hmac(TOKEN_SALT, user.password, algorithm="sha256").hexdigest()[:16]


def api_token_issue(*, user) -> str:
    """A bearer token for ``user``: their id, signed with a timestamp (no table holds it)."""
    return signing.TimestampSigner(salt=TOKEN_SALT).sign(f"{user.pk}:{_password_mark(user)}")


def api_token_user(*, token: str):
    """The active user a token names, or None for a bad, expired or outdated token."""
    try:
        value = signing.TimestampSigner(salt=TOKEN_SALT).unsign(token, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        return None
    user_id, _, mark = value.partition(":")
    if not user_id.isascii() or not user_id.isdigit():
        return None
    user = get_user_model().objects.filter(pk=int(user_id), is_active=True).first()
    if user is None or not constant_time_compare(mark, _password_mark(user)):
        return None
    return user


# Requests and responses


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers or None)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _csrf_refusal(request: HttpRequest) -> str | None:
    """Why Django's CSRF check refuses this request, or None when it passes."""
    return _CsrfCheck(lambda request: None).process_view(request, None, (), {})


def _session_has_learner(request: HttpRequest) -> bool:
    if request.user.is_authenticated:
        return True
    key = request.session.get(SESSION_KEY)
    return bool(key) and Learner.objects.filter(key=key).exists()


def _api(*methods: str) -> Callable:
    """An API view: allowed methods, who is asking, and errors as JSON.

    The view is called as ``view(request, learner, **kwargs)``.
    """

    def decorate(view: Callable) -> Callable:
        @csrf_exempt  # checked below, for session requests only
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs) -> JsonResponse:
            if request.method not in methods:
                return _error(405, f"Use {' or '.join(methods)}.", Allow=", ".join(methods))
            header = request.headers.get("Authorization")
            if header is not None:
                scheme, _, token = header.strip().partition(" ")
                user = api_token_user(token=token.strip()) if scheme.lower() == "bearer" else None
                if user is None:
                    return _error(
                        401,
                        "The token is not valid: get a new one with "
                        "`python manage.py api_token <username>`.",
                        **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
                    )
                learner = learner_for_user(user)
            elif _session_has_learner(request):
                if request.method not in SAFE_METHODS and (reason := _csrf_refusal(request)):
                    return _error(403, f"CSRF check failed: {reason}")
                learner = learner_for(request)
            else:
                return _error(
                    401,
                    "Send a token (Authorization: Bearer <token>) or use a signed-in session.",
                    **{"WWW-Authenticate": "Bearer"},
                )
            try:
                return view(request, learner, **kwargs)
            except (BadRequest, SubmissionError) as error:
                return _error(400, error.message)

        return wrapper

    return decorate


def _json_body(request: HttpRequest, fields: dict[str, bool]) -> dict:
    """The request's JSON object, with only ``fields`` (name: required) in it."""
    if request.content_type.lower() != "application/json":
        raise BadRequest("Send a JSON body, with Content-Type: application/json.")
    try:
        body = request.body
    except RequestDataTooBig:
        raise BadRequest("The body is too large.") from None
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest("The body is not valid JSON: it is nested too deeply.") from None
    except ValueError as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object.")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise BadRequest(f"Unknown field '{unknown[0][:40]}': send {', '.join(fields)}.")
    missing = [name for name, required in fields.items() if required and name not in data]
    if missing:
        raise BadRequest(f"Missing field '{missing[0]}'.")
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _attempt_of(learner: Learner, attempt_id: str) -> Attempt | None:
    """The learner's attempt, or None: another learner's attempt is as unknown as a missing one."""
    if not (attempt_id.isascii() and attempt_id.isdigit() and len(attempt_id) <= 19):
        return None
    if int(attempt_id) > MAX_ID:
        return None
    return Attempt.objects.filter(pk=int(attempt_id), learner=learner).first()


def _not_found_attempt() -> JsonResponse:
    return _error(404, "No such attempt.")


# What is sent


def _question_json(item: AttemptQuestion, *, finished: bool) -> dict:
    version = item.version
    options = {option["key"]: option for option in version.options}
    answer = getattr(item, "answer", None)
    data = {
        "position": item.position,
        "kind": version.kind,
        "partial_credit": version.partial_credit,
        "title_html": version.title_html,
        "prompt_html": version.prompt_html,
        "options": [{"key": key, "html": options[key]["html"]} for key in item.option_order],
        "answered": answer is not None,
    }
    if answer is None and not finished:
        return data  # nothing that gives the answer away
    data["result"] = {
        "chosen": answer.chosen if answer else [],
        "correct": answer.correct if answer else False,
        "credit": answer.credit if answer else 0.0,
        "correct_keys": [key for key in item.option_order if options[key]["correct"]],
        "feedback": [
            {"key": key, "html": options[key]["feedback_html"]} for key in item.option_order
        ],
        "difficulty": version.difficulty,
        "solution_html": version.solution_html,
        "quick_check_html": version.quick_check_html,
        "mistakes_html": version.mistakes_html,
    }
    return data


def _attempt_json(attempt: Attempt, *, questions: bool = True) -> dict:
    finished = attempt.finished_at is not None
    data = {
        "id": attempt.pk,
        "mode": attempt.mode,
        "lesson": attempt.lesson.slug if attempt.lesson_id else None,
        "created_at": attempt.created_at.isoformat(),
        "finished": finished,
        "finished_at": attempt.finished_at.isoformat() if finished else None,
        "max_score": attempt.max_score,
        "score": attempt.score if finished else None,
        "percent": attempt.percent if finished else None,
        "verdict": (
            verdict(attempt.percent)
            if finished and attempt.mode == Attempt.Mode.TEST and attempt.percent is not None
            else None
        ),
        "breakdown": breakdown(attempt) if finished else None,
    }
    if questions:
        items = attempt.items.select_related("version", "answer")
        data["questions"] = [_question_json(item, finished=finished) for item in items]
    return data


def _fresh(attempt: Attempt) -> Attempt:
    return Attempt.objects.select_related("lesson").get(pk=attempt.pk)


# Views


@_api("POST")
def attempt_create(request: HttpRequest, learner: Learner) -> JsonResponse:
    data = _json_body(request, {"mode": True, "lesson": False})
    mode, slug = data["mode"], data.get("lesson")
    if mode not in Attempt.Mode.values:
        raise BadRequest(f"'mode' is one of {', '.join(Attempt.Mode.values)}.")
    if slug is not None and not isinstance(slug, str):
        raise BadRequest("'lesson' is a lesson's slug, as a string.")
    lesson = None
    if mode == Attempt.Mode.REVIEW:
        if slug is not None:
            raise BadRequest("A review spans the whole course: send no 'lesson'.")
    elif slug is not None:
        lesson = Lesson.objects.active().filter(slug=slug).first() if SLUG.fullmatch(slug) else None
        if lesson is None:
            return _error(404, "No such lesson.")
    attempt = attempt_start(learner=learner, mode=mode, lesson=lesson)
    return JsonResponse(_attempt_json(_fresh(attempt)), status=201)


@_api("GET", "HEAD")
def attempt_detail(request: HttpRequest, learner: Learner, attempt_id: str) -> JsonResponse:
    attempt = _attempt_of(learner, attempt_id)
    if attempt is None:
        return _not_found_attempt()
    return JsonResponse(_attempt_json(_fresh(attempt)))


@_api("POST")
def attempt_answer_create(request: HttpRequest, learner: Learner, attempt_id: str) -> JsonResponse:
    attempt = _attempt_of(learner, attempt_id)
    if attempt is None:
        return _not_found_attempt()
    data = _json_body(request, {"position": True, "chosen": True})
    position, chosen = data["position"], data["chosen"]
    if isinstance(position, float) and position.is_integer():
        position = int(position)  # 2.0 is an integer to JSON Schema, so to the API too
    if isinstance(position, bool) or not isinstance(position, int):
        raise BadRequest("'position' is the question's number, as an integer.")
    if not 1 <= position <= MAX_POSITION:
        raise BadRequest(f"This attempt has no question {str(position)[:20]}.")
    if not isinstance(chosen, list):
        raise BadRequest("'chosen' is a list of option keys, such as [\"b\"].")
    answer = attempt_answer(attempt=attempt, position=position, chosen=chosen)
    attempt = _fresh(attempt)
    item = attempt.items.select_related("version", "answer").get(pk=answer.item_id)
    return JsonResponse(
        {
            "attempt": _attempt_json(attempt, questions=False),
            "question": _question_json(item, finished=attempt.finished_at is not None),
        }
    )


@_api("POST")
def attempt_submit_create(request: HttpRequest, learner: Learner, attempt_id: str) -> JsonResponse:
    attempt = _attempt_of(learner, attempt_id)
    if attempt is None:
        return _not_found_attempt()
    answers = _json_body(request, {"answers": True})["answers"]
    if not isinstance(answers, dict):
        raise BadRequest('\'answers\' maps question numbers to option keys: {"1": ["a"]}.')
    for position, chosen in answers.items():
        if not POSITION_KEY.fullmatch(position):
            raise BadRequest(f'\'{position[:20]}\' is not a question number: use "1", "2"...')
        if not isinstance(chosen, list):
            raise BadRequest(f"The answer to question {position} is a list of option keys.")
    attempt = attempt_submit(attempt=attempt, answers=answers)
    return JsonResponse(_attempt_json(_fresh(attempt)))


@csrf_exempt
def openapi_document(request: HttpRequest) -> JsonResponse:
    """The OpenAPI description: public, like the pages it describes."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, "Use GET.", Allow="GET, HEAD")
    return JsonResponse(OPENAPI)


@csrf_exempt
def not_found(request: HttpRequest, path: str) -> JsonResponse:
    """Any other path under the API: a JSON 404, like the API's own."""
    return _error(404, "No such endpoint: see /api/v1/openapi.json.")
