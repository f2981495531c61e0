"""Schemathesis against the running API: inputs generated from its own OpenAPI description.

The site runs under a real uvicorn (``live_url``), with a real Redis and worker behind it.
Every operation gets valid and invalid bodies and ids (schemathesis's positive and negative
modes), sent with a valid bearer token; no answer may be a server error, and every answer
must match the schema of its status.
"""

import os

import pytest
import schemathesis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from authoring.content import content_load
from learners.identity import learner_for_user
from lessons.models import Lesson
from quiz.api import api, api_token_issue
from quiz.services import attempt_start, attempt_submit
from tests.authoring.factory import make_lesson, make_questions, question_text

MULTIPLE = (
    "- [x] Holds the messages.\n  > Yes: until a worker takes them.\n"
    "- [x] Hands them to workers.\n  > Yes: one at a time.\n"
    "- [ ] Runs the task.\n  > No: the worker runs it.\n"
)


@pytest.fixture
def api_user(live_url, tmp_path) -> User:
    """A user with attempts of every mode at a loaded lesson, one of them finished."""
    path = make_lesson(tmp_path / "course", slug="fuzzed", order=1)
    make_questions(
        path,
        question_text(qid="fuzz-single"),
        question_text(qid="fuzz-multiple", options=MULTIPLE,
                      meta={"type": "multiple", "partial_credit": "true"}),
    )  # fmt: skip
    content_load(root=tmp_path)
    user = User.objects.create_user("fuzzer")
    learner, lesson = learner_for_user(user), Lesson.objects.get(slug="fuzzed")
    for mode in ["practice", "quiz", "test", "quiz"]:
        attempt = attempt_start(learner=learner, mode=mode, lesson=lesson)
    attempt_submit(attempt=attempt, answers={"1": ["a"], "2": ["a", "c"]})
    return user


# The description the site serves at /api/v1/openapi.json (test_api.py reads it there).
# Loaded here rather than from the live server because schemathesis's fixture-based loader
# (schemathesis.pytest.from_fixture) fails on pytest 9.2: it sets `Function._nodeid`, which
# pytest 9.2 no longer has. The server's address is given to each call instead.
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix=""))
# Examples per operation and mode (valid, invalid), after the coverage phase's own cases:
# about 350 requests in all, some 15 seconds.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", 30))


def aim(case, ids: list[int]) -> None:
    """Point most generated inputs at what exists (this user's attempts, the loaded lesson,
    questions 1 and 2, options a to d), so that they reach the grading code instead of
    stopping at "no such attempt"; the rest stay as generated."""
    params = case.path_parameters or {}
    number = str(params.get("attempt_id", ""))
    if number.isdecimal() and len(number) < 19 and int(number) % 5:
        params["attempt_id"] = ids[int(number) % len(ids)]
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("lesson"), str) and len(body["lesson"]) % 3:
        body["lesson"] = "fuzzed"
    if type(body.get("position")) is int:
        body["position"] = 1 + body["position"] % 3
    if isinstance(body.get("chosen"), list):
        body["chosen"] = [_letter(key) for key in body["chosen"]]
    if isinstance(body.get("answers"), dict):
        answers = {
            str(1 + int(number) % 3) if number.isdecimal() and len(number) < 10 else number: (
                [_letter(key) for key in keys] if isinstance(keys, list) else keys
            )
            for number, keys in body["answers"].items()
        }
        if len(answers) % 2 == 0:  # most submissions answer every question
            answers = {"1": ["a"], "2": ["b"]} | answers
        body["answers"] = answers


def _letter(key):
    return "abcd"[sum(map(ord, key[:1])) % 4] if isinstance(key, str) else key


@schema.parametrize()
# The user and their attempts are made once per operation and shared by its examples: what
# one example answers, the next finds answered, as a script would.
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])  # fmt: skip
def test_no_generated_input_makes_the_api_fail(case, live_url, api_user):
    aim(case, list(api_user.learner.attempts.order_by("pk").values_list("pk", flat=True)))
    case.call_and_validate(
        base_url=f"{live_url}/api/v1",
        headers={"Authorization": f"Bearer {api_token_issue(user=api_user)}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
