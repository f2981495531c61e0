"""A NUL character in a request: a 400 that says so, and never a query that carries it.

PostgreSQL refuses a NUL in a query's text (a 500 there, where SQLite finds nothing). The site
refuses one in a path, query or form field before any view runs (learnsite/middleware.py); the
whole-site test sends every field a page or form reads, with a NUL, to every page and form, on
SQLite, and checks what reaches the database. (An LTI launch token's claims: tests/lti.)
"""

import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from learnsite.middleware import NUL_REFUSED
from learnsite.stream_urls import app_name as STREAMS
from tests.quiz.factory import make_question, make_quiz_lesson

NUL = "x\x00"
# Every field a page or form of the site reads, each sent with a NUL.
FIELDS = [
    "q", "lesson", "attempts", "subscribe", "tab", "run", "seen", "after", "mode", "position",
    "answer", "q1", "version", "choice", "behaviour", "shape", "hold", "late", "stop", "pool",
    "concurrency", "workload", "burst", "threshold", "setup", "channel", "message", "via",
    "line", "latency_ms", "username", "password", "password1", "password2", "next", "iss",
    "client_id", "login_hint", "target_link_uri", "lti_message_hint", "id_token", "state",
]  # fmt: skip
# What takes no field: forms that start work or end a session, and the health checks (which
# wait for a worker's answer).
NO_FIELDS = {"ping-start", "ping-drop", "listen-start", "review-start", "lesson-read", "logout",
             "healthz", "healthz-live", "healthz-ready"}  # fmt: skip


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if pattern.namespace not in {STREAMS, "admin"}:  # a stream stays open; Django's
                found += _patterns(pattern, route)
        else:
            found.append((route, pattern))
    return found


def _paths(lesson: str, attempt: int) -> list[str]:
    """Every page and form of the site, its path parameters filled in."""
    values = {"slug": lesson, "kind": "ping", "pk": attempt, "attempt_id": attempt, "path": "x"}
    parameter = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)|\^|\$")
    return [
        "/" + parameter.sub(lambda match: str(values.get(match[1] or match[2], "")), route)
        for route, pattern in _patterns(get_resolver())
        if pattern.name not in NO_FIELDS
    ]


def test_no_field_puts_a_nul_into_a_query(db, redis_url, tmp_path, django_user_model):
    lesson = make_quiz_lesson(tmp_path, make_question("nul"))
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    attempt = client.post(f"/lessons/{lesson.slug}/attempts/", {"mode": "practice"})
    sent, failed = [], []

    def record(execute, sql, params, many, context):
        rows = params if many else [params]
        if any(isinstance(value, str) and "\x00" in value for row in rows for value in row or ()):
            sent.append(sql)
        return execute(sql, params, many, context)

    form = dict.fromkeys(FIELDS, NUL)
    with connection.execute_wrapper(record):
        for path in _paths(lesson.slug, int(attempt.url.split("/")[2])):
            for method in (client.get, client.post):
                response = method(path, form)
                if response.status_code >= 500 or sent:
                    failed.append((method.__name__, path, response.status_code, sent[:]))
                    sent.clear()
    assert not failed


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/search/", {"q": "second\x00"}),
        ("get", "/search/", {"q\x00": "second"}),
        ("get", "/lessons/a\x00b/", {}),
        ("post", "/accounts/login/", {"username": "x\x00", "password": "p"}),
        ("get", "/staff/quiz/", {"lesson": "nope\x00"}),
    ],
)
def test_a_nul_in_a_path_query_or_form_field_is_a_400_that_says_so(db, method, path, data):
    response = getattr(Client(), method)(path, data)
    assert response.status_code == 400
    assert response.content.decode() == NUL_REFUSED


def test_the_json_api_is_answered_in_json(db):
    response = Client().get("/api/v1/attempts", {"lesson": "x\x00"})
    assert response.status_code == 400 and response.json() == {"error": NUL_REFUSED}


def test_a_request_without_a_nul_goes_on(client, db):
    assert client.get("/search/", {"q": "a"}).status_code == 200
