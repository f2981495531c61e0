"""A NUL character in the fields of every page and form: never a query that carries it.

PostgreSQL refuses a NUL in a query's text (a 500 there, where SQLite finds nothing), so the
fields are sent one through the test client, on SQLite, and what reaches the database is
checked. All the fields go at once: a field read after another one was refused is not reached
here (the staff page's ``lesson`` after ``attempts``, LTI's ``iss`` after the target), and is
tested with its view.
"""

import re

from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

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
