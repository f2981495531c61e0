"""content_load again after a load: only the lessons whose files changed are read, rendered and
written (counted in queries, not timed), and a broken edit still changes nothing."""

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authoring.content import ContentInvalid, content_load, content_validate
from bench.content_scale import content_copies
from lessons.body import lesson_body_rendered
from lessons.markdown import markdown_render
from lessons.models import Lesson

from .factory import line_of, make_lesson, make_questions, question_text
from .test_content_load import dump, edit, shown_version

pytestmark = pytest.mark.django_db

LESSONS = 20


@pytest.fixture
def course(tmp_path) -> Path:
    """A course of 20 lessons, each with a question, loaded once."""
    folder = tmp_path / "course"
    for number in range(1, LESSONS + 1):
        lesson = make_lesson(folder, slug=f"lesson-{number}", order=number)
        make_questions(lesson, question_text(qid=f"question-{number}"))
    content_load(root=tmp_path)
    return folder


def writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements that changed rows, by their first words and table (an executemany is
    logged as 'N times: <statement>')."""
    changing = ("INSERT", "UPDATE", "DELETE")
    statements = [re.sub(r"^\d+ times: ", "", query["sql"]) for query in queries.captured_queries]
    return sorted(" ".join(sql.split()[:3]) for sql in statements if sql.startswith(changing))


def test_an_unchanged_reload_reads_no_lesson_and_writes_nothing(course, tmp_path):
    before = dump()

    with CaptureQueriesContext(connection) as queries:
        report = content_load(root=tmp_path)

    assert (report.lessons_unchanged, report.changed) == (LESSONS, [])
    assert writes(queries) == []
    # The rows it compares with come in a fixed few queries, not some for each lesson.
    assert len(queries) < LESSONS / 2
    assert dump() == before


def test_one_edited_question_file_reloads_only_its_lesson(course, tmp_path):
    edit(course / "07-lesson-7.questions.md", "The right answer to", "The best answer to")

    with CaptureQueriesContext(connection) as queries:
        report = content_load(root=tmp_path)

    assert (report.changed, report.lessons_unchanged) == (["lesson-7"], LESSONS - 1)
    assert (report.question_versions_created, report.questions_retired) == (1, 0)
    assert writes(queries) == [
        'INSERT INTO "quiz_questionversion"',
        'UPDATE "lessons_contentversion" SET',  # the pages render the new content
        'UPDATE "lessons_lesson" SET',
        'UPDATE "quiz_question" SET',
    ]
    version = shown_version("question-7")
    assert version.number == 2
    assert "The best answer" in version.options[0]["html"]


def test_one_edited_lesson_file_reloads_only_that_lesson(course, tmp_path):
    edit(course / "12-lesson-12.md", "The request thread.", "The request thread, waiting.")

    with CaptureQueriesContext(connection) as queries:
        report = content_load(root=tmp_path)

    assert (report.changed, report.question_versions_created) == (["lesson-12"], 0)
    assert writes(queries) == ['UPDATE "lessons_contentversion" SET', 'UPDATE "lessons_lesson" SET']
    sections = lesson_body_rendered(lesson=Lesson.objects.get(slug="lesson-12")).sections
    assert "waiting" in next(s for s in sections if s["kind"] == "bottleneck")["parts"][0]["html"]


def test_a_broken_edit_of_the_same_size_changes_nothing_and_names_file_and_line(course, tmp_path):
    # Edited at once and to the same size: the file's times and size may not tell it changed.
    lesson = course / "03-lesson-3.md"
    before = dump()
    original = lesson.read_text()
    edit(lesson, "impact: medium", "impact: mediux")

    with pytest.raises(ContentInvalid) as raised:
        content_load(root=tmp_path)

    assert [str(error) for error in raised.value.errors] == [
        f"{lesson}:{line_of(lesson, 'impact:')}: 'impact' must be one of low, medium, high, "
        "not 'mediux'"
    ]
    assert dump() == before
    lesson.write_text(original)
    assert content_load(root=tmp_path).changed == []


def test_an_unchanged_lesson_is_checked_again_when_a_lesson_it_names_goes(course, tmp_path):
    needs = make_lesson(course, slug="needs-two", front={"prerequisites": "[lesson-2]"})
    content_load(root=tmp_path)

    (course / "02-lesson-2.md").unlink()
    (course / "02-lesson-2.questions.md").unlink()
    _, errors = content_validate(root=tmp_path)

    assert [str(error) for error in errors] == [
        f"{needs}:{line_of(needs, 'prerequisites:')}: prerequisite 'lesson-2' is not the slug "
        "of any lesson in the course"
    ]


def test_the_generated_courses_are_the_real_course_with_their_own_slugs_and_ids(tmp_path):
    courses, errors = content_validate(root=content_copies(tmp_path, copies=2))

    assert errors == []
    slugs = [[lesson.meta["slug"] for lesson in course.lessons] for course in courses]
    assert len(slugs[0]) == len(set(slugs[0]) | set(slugs[1])) / 2 > 0
    assert all(slug.endswith("-c002") for slug in slugs[1])
    ids = {
        q.meta["id"] for course in courses for lesson in course.lessons for q in lesson.questions
    }
    assert len(ids) == sum(len(lesson.questions) for c in courses for lesson in c.lessons)


def test_each_text_renders_as_if_it_were_the_only_one():
    # One renderer serves every text: what a text defines must not carry over to the next.
    first = markdown_render("## Tips\n\n[docs]: https://example.com/\n\nSee [docs].")
    second = markdown_render("## Tips\n\nSee [docs].")

    assert 'href="https://example.com/"' in first
    assert second == '<h2 id="tips">Tips</h2>\n<p>See [docs].</p>'
