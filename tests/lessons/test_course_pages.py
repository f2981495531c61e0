"""The real course as a learner meets it: every lesson page renders, and each of its modes
(practice, quiz, test) starts and shows its questions, with no markdown or template syntax left
over in the HTML and no answer in it before one is given."""

import re

import pytest
from django.conf import settings
from django.db import transaction

from authoring.content import content_load
from lessons.body import lesson_body_rendered
from lessons.models import Lesson
from quiz.rendering import versions_rendered
from tests.authoring.test_course import LESSON_LABS

# One pytest-xdist worker runs them all (a group): each worker that ran some loaded the course.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("course-pages")]
LEFTOVERS = re.compile(r"```|\{[#%{]|[#%}]\}|^#{1,6} ", re.MULTILINE)


@pytest.fixture(scope="module")
def loaded_course(django_db_setup, django_db_blocker):
    """The course, loaded once for the module in a transaction rolled back after it; each test
    runs in a savepoint inside it (pytest-django's ``db``), so what one test writes is undone."""
    with django_db_blocker.unblock(), transaction.atomic():
        content_load(root=settings.CONTENT_DIR)
        yield
        transaction.set_rollback(True)


@pytest.fixture
def course(loaded_course, db):
    pass


def leftovers(html: str) -> list[str]:
    # Code may hold any of these; everything else is text that markdown and templates made.
    text = re.sub(r"<(script|style|pre|code)\b.*?</\1>", "", html, flags=re.S)
    return LEFTOVERS.findall(text)


@pytest.mark.parametrize("slug", LESSON_LABS)
def test_the_lesson_and_each_of_its_modes_render(client, course, slug):
    response = client.get(f"/lessons/{slug}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert leftovers(html) == []
    assert f'href="/labs/{LESSON_LABS[slug]}/?lesson={slug}"' in html
    lab = client.get(f"/labs/{LESSON_LABS[slug]}/?lesson={slug}").content.decode()
    assert re.search(rf'<a href="/lessons/{slug}/">← Back to the lesson “[^<]+”</a>', lab)
    assert "Runnable:" in html and "It prints:" in html

    questions = Lesson.objects.get(slug=slug).questions.select_related("current_version")
    versions = versions_rendered(versions=[question.current_version for question in questions])
    solutions = [version.solution_html for version in versions]
    assert all(solutions)
    for mode in ("practice", "quiz", "test"):
        response = client.post(f"/lessons/{slug}/attempts/", {"mode": mode}, follow=True)
        html = response.content.decode()
        assert response.status_code == 200, mode
        assert leftovers(html) == [], mode
        assert re.search(r'<input type="(radio|checkbox)"', html), mode
        assert not any(solution in html for solution in solutions), mode


def test_two_processes_rendering_a_body_at_once_store_the_same_html(client, course):
    """Each lesson read unrendered by two processes, both render it: the second's write finds
    it stored and changes nothing, and the page shows what both made."""
    for slug in Lesson.objects.values_list("slug", flat=True):
        first, second = Lesson.objects.get(slug=slug), Lesson.objects.get(slug=slug)
        assert not first.body_rendered
        made = [lesson_body_rendered(lesson=lesson) for lesson in (first, second)]
        stored = Lesson.objects.get(slug=slug)
        bodies = {repr((lesson.intro_html, lesson.sections)) for lesson in [*made, stored]}
        assert len(bodies) == 1 and stored.body_rendered, slug
        assert '"markdown"' not in bodies.pop(), slug
        html = client.get(f"/lessons/{slug}/").content.decode()
        assert stored.intro_html in html, slug
