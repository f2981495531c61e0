"""Every page sends the Content-Security-Policy of settings.SECURE_CSP: scripts from our own
files only, never inline and never eval."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from labs.registry import LAB_KINDS
from quiz.models import Attempt
from tests.quiz.factory import make_question, make_quiz_lesson

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values for name, *values in (directive.split() for directive in header.split(";"))
    }


def assert_strict(response) -> None:
    assert response.status_code == 200, response
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for values in directives.values():
        assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values


@pytest.fixture
def lesson(tmp_path):
    return make_quiz_lesson(tmp_path, make_question("one"), make_question("two"), slug="csp")


def test_the_course_and_account_pages_send_the_policy(client: Client, lesson):
    for url in ["/", f"/lessons/{lesson.slug}/", "/review/", "/accounts/login/",
                "/accounts/signup/"]:  # fmt: skip
        assert_strict(client.get(url))


def test_a_quiz_and_its_result_send_the_policy(client: Client, lesson):
    started = client.post(f"/lessons/{lesson.slug}/attempts/", {"mode": "quiz"})
    attempt = Attempt.objects.get(pk=int(re.search(r"/attempts/(\d+)/", started.url).group(1)))
    assert_strict(client.get(f"/attempts/{attempt.pk}/"))
    client.post(f"/attempts/{attempt.pk}/submit/", {"q1": "a", "q2": "b"})
    attempt.refresh_from_db()
    assert attempt.finished_at is not None
    assert_strict(client.get(f"/attempts/{attempt.pk}/"))


def test_every_lab_page_sends_the_policy(client: Client, redis_url):
    assert_strict(client.get("/labs/"))
    for kind in LAB_KINDS.values():
        assert_strict(client.get(reverse(kind.url_name)))
