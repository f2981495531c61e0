"""The JSON API for scripted quiz answers: start an attempt, answer, submit, read the result.

A django-ninja API. Grading and every rule about what may be answered live in
``quiz.services``; this module reads the request, calls the service and writes the answer. The
shapes of both are ninja schemas in ``quiz/schemas.py``: ninja checks requests against them and
generates the OpenAPI document from them.

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
from typing import Annotated

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Path, Router, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth

from learners.identity import SESSION_KEY, learner_for, learner_for_user
from learners.models import Learner
from lessons.models import Lesson
from lessons.rendered import content_version_current, rendered_cached

from .models import Attempt, AttemptQuestion
from .rendering import versions_rendered
from .schemas import (
    AnswerRequest,
    AnswerResult,
    AttemptDetail,
    Error,
    StartRequest,
    SubmitRequest,
)
from .services import (
    LESSON_TEXT_FIELDS,
    SubmissionError,
    attempt_answer,
    attempt_questions,
    attempt_start,
    attempt_submit,
    breakdown,
    verdict,
)

TOKEN_SALT = "quiz.api.token"  # noqa: S105 (a namespace for the signature, not a secret)
TOKEN_MAX_AGE = timedelta(days=90)
MAX_ID = 2**63 - 1  # larger numbers cannot name a row (SQLite and PostgreSQL bigint)
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


# Tokens


def _password_mark(user) -> str:
    # Part of the signed value, so that a new password ends every token issued before it.
    return salted_hmac(TOKEN_SALT, user.password, algorithm="sha256").hexdigest()[:16]


def api_token_issue(*, user) -> str:
    """A bearer token for ``user``: their id, signed with a timestamp (no table holds it)."""
    return signing.TimestampSigner(salt=TOKEN_SALT).sign(f"{user.pk}:{_password_mark(user)}")


def api_token_learner(*, token: str) -> Learner | None:
    """The learner of the active user a token names (made on their first request), or None for
    a bad, expired or outdated token. One query for a user who has a learner."""
    try:
        value = signing.TimestampSigner(salt=TOKEN_SALT).unsign(token, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        return None
    user_id, _, mark = value.partition(":")
    if not user_id.isascii() or not user_id.isdigit():
        return None
    learner = (
        Learner.objects.select_related("user")
        .filter(user_id=int(user_id), user__is_active=True)
        .first()
    )
    if learner is not None:
        user = learner.user
    else:
        user = get_user_model().objects.filter(pk=int(user_id), is_active=True).first()
    if user is None or not constant_time_compare(mark, _password_mark(user)):
        return None
    return learner or learner_for_user(user)


# Who is asking. The classes are named as the document names its security schemes.


class InvalidToken(Exception):
    pass


class bearerAuth(HttpBearer):
    openapi_description = (
        "A token from `python manage.py api_token <username>`: 90 days, and until the user's "
        "password changes. No CSRF token is needed with it."
    )

    def __call__(self, request: HttpRequest) -> Learner | None:
        if "Authorization" not in request.headers:
            return None  # then the session may answer
        learner = super().__call__(request)
        if learner is None:  # a bad token is refused even with a session
            raise InvalidToken
        return learner

    def authenticate(self, request: HttpRequest, token: str) -> Learner | None:
        return api_token_learner(token=token.strip())


class sessionAuth(SessionAuth):
    openapi_description = (
        "The site's session, once it has a learner (it has used the site) or a signed-in "
        "user. POSTs need Django's CSRF token (X-CSRFToken header)."
    )

    def __call__(self, request: HttpRequest) -> Learner | None:
        if not (request.user.is_authenticated or _session_learner_exists(request)):
            return None  # 401, before the CSRF check: no learner is made for the API
        return super().__call__(request)  # ninja's CSRF check on POST, then authenticate

    def authenticate(self, request: HttpRequest, key: str | None) -> Learner:
        return learner_for(request)


def _session_learner_exists(request: HttpRequest) -> bool:
    key = request.session.get(SESSION_KEY)
    return bool(key) and Learner.objects.filter(key=key).exists()


# Reading requests


class JsonParser(Parser):
    """JSON bodies only, with JSON's own numbers (Python's json also reads NaN and Infinity)."""

    def parse_body(self, request: HttpRequest) -> object:
        if request.content_type.lower() != "application/json":
            raise HttpError(400, "Send a JSON body, with Content-Type: application/json.")
        try:
            return json.loads(request.body, parse_constant=_no_constant)
        except RecursionError:
            raise HttpError(400, "The body is not valid JSON: it is nested too deeply.") from None
        except ValueError as error:
            raise HttpError(400, f"The body is not valid JSON: {error}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


api = NinjaAPI(
    title="learnsite quiz API",
    version="1.0.0",
    description=(
        "Start an attempt, answer, submit and read the graded result. Right options, feedback "
        "and solutions are sent only after the question is answered (practice, review) or the "
        "attempt is finished (quiz, test). Answers are recorded once: sending the same answer "
        "again returns the stored result with 200. A refused request is answered "
        '`{"error": "..."}`, saying what to do instead; nothing was changed.'
    ),
    servers=[{"url": "/api/v1"}],
    auth=[bearerAuth(), sessionAuth()],
    parser=JsonParser(),
    openapi_url=None,  # served by the `openapi` operation below, so that it is in the document
    docs_url=None,
    # A question's result is left out of the answer (not sent as null) until it may be shown.
    default_router=Router(exclude_unset=True),
)


def _error(status: int, message: str, **headers: str) -> HttpResponse:
    return JsonResponse({"error": message}, status=status, headers=headers or None)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    # ninja reports what the parser raises as "Cannot parse request body"; ours says more.
    if isinstance(error.__cause__, HttpError):
        error = error.__cause__
    return _error(error.status_code, error.message)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    return _error(400, "The body is too large.")


@api.exception_handler(SubmissionError)
def _refused(request: HttpRequest, error: SubmissionError) -> HttpResponse:
    return _error(400, error.message)


@api.exception_handler(InvalidToken)
def _invalid_token(request: HttpRequest, error: InvalidToken) -> HttpResponse:
    return _error(
        401,
        "The token is not valid: get a new one with `python manage.py api_token <username>`.",
        **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(
        401,
        "Send a token (Authorization: Bearer <token>) or use a signed-in session.",
        **{"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    if any(item["loc"][0] == "path" for item in error.errors):
        return _error(404, "No such attempt.")  # an id that is not a number names no attempt
    return _error(400, _message(error.errors[0]))


def _message(error: dict) -> str:
    """What to do instead, for the first thing pydantic found wrong in the body."""
    kind, where = error["type"], error["loc"][2:]  # after ("body", <parameter>)
    match where:
        case ():
            return "Send a JSON object."
        case (field,) if kind == "missing":
            return f"Missing field '{field}'."
        case (field,) if kind == "extra_forbidden":
            return f"Unknown field '{field[:40]}': see /api/v1/openapi.json."
        case ("mode",):
            return f"'mode' is one of {', '.join(Attempt.Mode.values)}."
        case ("lesson",):
            return "'lesson' is a lesson's slug, as a string."
        case ("position",):
            return "'position' is the question's number, as an integer."
        case ("chosen",):
            return "'chosen' is a list of option keys, such as [\"b\"]."
        case ("answers",):
            return '\'answers\' maps question numbers to option keys: {"1": ["a"]}.'
        case ("answers", position, "[key]"):
            return f'\'{position[:20]}\' is not a question number: use "1", "2"...'
        case ("answers", position):
            return f"The answer to question {position} is a list of option keys."
        case _:  # an option key that is not a string
            return "Send the chosen options as a list of option letters."


def _attempt_of(learner: Learner, attempt_id: int) -> Attempt:
    """The learner's attempt: another learner's attempt is as unknown as a missing one."""
    attempt = (
        Attempt.objects.select_related("lesson").filter(pk=attempt_id, learner=learner).first()
    )
    if attempt is None:
        raise HttpError(404, "No such attempt.")
    return attempt


# What is sent


def _question(item: AttemptQuestion, *, finished: bool) -> dict:
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


def _attempt(attempt: Attempt, *, questions: bool = True) -> dict:
    """``attempt`` as stored now: its questions as this request's start or submission left
    them (read under its lock), else read after any change the request made."""
    finished = attempt.finished_at is not None
    items = attempt_questions(attempt) if questions or finished else []
    data = {
        "id": attempt.pk,
        "mode": attempt.mode,
        "lesson": attempt.lesson.slug if attempt.lesson_id else None,
        "created_at": attempt.created_at,
        "finished": finished,
        "finished_at": attempt.finished_at,
        "max_score": attempt.max_score,
        "score": attempt.score if finished else None,
        "percent": attempt.percent if finished else None,
        "verdict": (
            verdict(attempt.percent)
            if finished and attempt.mode == Attempt.Mode.TEST and attempt.percent is not None
            else None
        ),
        "breakdown": breakdown(items) if finished else None,
    }
    if questions:
        data["questions"] = [_question(item, finished=finished) for item in items]
    return data


# Operations. GETs take HEAD too, as Django's views do.

REFUSALS = {(400, 401, 403, 404): Error}
AttemptId = Annotated[int, Path(ge=1, le=MAX_ID)]


@api.post("/attempts", response={201: AttemptDetail, **REFUSALS})
def attempt_create(request: HttpRequest, data: StartRequest) -> Status:
    """Start an attempt at a lesson's practice, quiz or test, or a review."""
    lesson = None
    if data.mode == Attempt.Mode.REVIEW:
        if data.lesson is not None:
            raise HttpError(400, "A review spans the whole course: send no 'lesson'.")
    elif data.lesson is not None:
        if SLUG.fullmatch(data.lesson):
            lesson = rendered_cached(
                version=content_version_current(),
                key=f"quiz:lesson:{data.lesson}",
                build=lambda: (
                    Lesson.objects.active()
                    .defer(*LESSON_TEXT_FIELDS)
                    .filter(slug=data.lesson)
                    .order_by()
                    .first()
                ),
            )
        if lesson is None:
            raise HttpError(404, "No such lesson.")
    attempt = attempt_start(learner=request.auth, mode=data.mode, lesson=lesson)
    return Status(201, _attempt(attempt))


@api.api_operation(
    ["GET", "HEAD"], "/attempts/{attempt_id}", response={200: AttemptDetail, (401, 404): Error}
)
def attempt_detail(request: HttpRequest, attempt_id: AttemptId) -> dict:
    """The attempt, and the graded result of what is answered."""
    return _attempt(_attempt_of(request.auth, attempt_id))


@api.post("/attempts/{attempt_id}/answers", response={200: AnswerResult, **REFUSALS})
def attempt_answer_create(request: HttpRequest, attempt_id: AttemptId, data: AnswerRequest) -> dict:
    """Practice and review: answer one question, graded at once (the stored answer, for a
    repeat)."""
    attempt = _attempt_of(request.auth, attempt_id)
    answer = attempt_answer(attempt=attempt, position=data.position, chosen=data.chosen)
    summary = _attempt(_attempt_of(request.auth, attempt_id), questions=False)
    item = attempt.items.select_related("version", "answer").get(pk=answer.item_id)
    versions_rendered(versions=[item.version])
    return {"attempt": summary, "question": _question(item, finished=summary["finished"])}


@api.post("/attempts/{attempt_id}/submit", response={200: AttemptDetail, **REFUSALS})
def attempt_submit_create(request: HttpRequest, attempt_id: AttemptId, data: SubmitRequest) -> dict:
    """Quiz and test: every answer at once; the attempt is graded (the stored one, for a
    repeat)."""
    try:  # read, and checked to be the learner's, under its lock
        attempt = attempt_submit(
            attempt=Attempt(pk=attempt_id, learner=request.auth), answers=data.answers
        )
    except Attempt.DoesNotExist:
        raise HttpError(404, "No such attempt.") from None
    return _attempt(attempt)


@api.api_operation(["GET", "HEAD"], "/openapi.json", auth=None, response=dict)
def openapi(request: HttpRequest) -> dict:
    """This description: public, like the pages it describes."""
    return api.get_openapi_schema(path_prefix="")


@csrf_exempt
def not_found(request: HttpRequest, path: str) -> HttpResponse:
    """Any other path under the API: a JSON 404, like the API's own."""
    return _error(404, "No such endpoint: see /api/v1/openapi.json.")


def json_405(view: Callable) -> Callable:
    """A ninja path view, answering a method it does not take in JSON (ninja writes text)."""

    @wraps(view)
    def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
        response = view(request, **kwargs)
        if response.status_code != 405:
            return response
        allowed = response["Allow"]
        return _error(405, f"Use {' or '.join(allowed.split(', '))}.", Allow=allowed)

    return wrapper
