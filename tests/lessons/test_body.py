"""A lesson's body is loaded as markdown and rendered on first need: the first page that shows
it renders it and stores the HTML, once per content version; a reload's new markdown is never
covered by the HTML of the version before."""

import pytest

from authoring.content import content_load
from lessons.body import lesson_body_rendered
from lessons.models import Lesson
from tests.authoring.factory import make_lesson

pytestmark = pytest.mark.django_db

CODE = "Queue it:\n\n```python\nsend_email.delay(user_id=42)\n```\n"


def test_a_loaded_lesson_is_not_rendered_until_its_page_shows_it(client, tmp_path):
    make_lesson(tmp_path / "course", slug="lazy", sections={"Concept": CODE})
    content_load(root=tmp_path)
    stored = Lesson.objects.get(slug="lazy")
    assert not stored.body_rendered and "highlight" not in str(stored.sections)

    page = client.get("/lessons/lazy/").content.decode()

    # Highlighted by Pygments: the call's name in a token span of its own.
    assert '<div class="highlight">' in page and '<span class="n">send_email</span>' in page
    stored = Lesson.objects.get(slug="lazy")
    concept = next(s for s in stored.sections if s["kind"] == "concept")
    assert stored.body_rendered and stored.intro_markdown == ""
    assert [part["type"] for part in concept["parts"]] == ["html"]
    assert '<span class="n">send_email</span>' in concept["parts"][0]["html"]


def test_an_edited_lesson_is_rendered_again_and_an_old_render_is_not_stored(client, tmp_path):
    make_lesson(
        tmp_path / "course", slug="edited", order=1, sections={"Concept": "The **first** words."}
    )
    content_load(root=tmp_path)
    assert "<strong>first</strong>" in client.get("/lessons/edited/").content.decode()
    make_lesson(
        tmp_path / "course", slug="edited", order=1, sections={"Concept": "The **second** words."}
    )
    content_load(root=tmp_path)
    # Read before the next load changes the lesson, rendered after it (a slow process).
    late = Lesson.objects.get(slug="edited")
    make_lesson(
        tmp_path / "course", slug="edited", order=1, sections={"Concept": "The **third** words."}
    )
    content_load(root=tmp_path)

    assert "<strong>second</strong>" in str(lesson_body_rendered(lesson=late).sections)
    stored = Lesson.objects.get(slug="edited")
    assert not stored.body_rendered and "second" not in str(stored.sections)
    page = client.get("/lessons/edited/").content.decode()
    assert "<strong>third</strong>" in page
    assert "<strong>first</strong>" not in page and "<strong>second</strong>" not in page
