"""Hostile and random text in every kind of content file: the checks report, they never raise."""

import tempfile
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from authoring.content import content_load, content_validate
from authoring.sources import ContentError
from lessons.models import Lesson

from .factory import COURSE_YAML, make_lesson, make_questions, question_text

PIECES = [
    "---", "## ", "### ", "```", "~~~", "```question", "```lab", "```python", "```json",
    "```yaml", "- [x] ", "- [ ] ", "  feedback", "  > feedback", "key: value", "kind: ping",
    "kind: [1]",
    "id: q", "type: single", "type: multiple", "partial_credit: true", "sets: [[quiz]]",
    "slug: a", "order: 1", "prerequisites: [[a]]", "prerequisites: [{a: 1}]", "Cost:", "Gain:",
    "| a | b |", "!!! tip \"Title\"", "[link](missing.md)", "[link](/lessons/nope/)",
    "[link](/labs/nope/)", "[nul](a\x00b.md)", "when: 2001-13-45", "n: " + "9" * 5000,
    "x: !!int abc", "x: !!python/object:os.system", "&a [*a, *a]", "[" * 2000, "{" * 2000,
    "(" * 2000, "- " * 500, "x" * 20_000, "\t", "\x00", "\r", "\u2028", "\ufeff", "\x85",
    "## Concept", "## Bad pattern", "## Good pattern", "## Comparison", "## Tips",
    "### Solution", "### Hints", "### Quick check", "### Common mistakes",
]  # fmt: skip

fragment = st.one_of(st.sampled_from(PIECES), st.text(max_size=40))
random_text = st.lists(fragment, max_size=30).map("\n".join)


@st.composite
def damaged(draw, valid: str) -> str:
    """A valid file with a few random fragments put between (or into) its lines."""
    lines = valid.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines)))
        lines.insert(index, draw(fragment) + draw(st.sampled_from(["", " ", "\n"])))
    return "\n".join(lines)


def file_text(valid: str) -> st.SearchStrategy:
    return st.one_of(random_text, damaged(valid), st.binary(max_size=64))


def valid_texts() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        lesson = make_lesson(Path(folder) / "course", slug="fuzzed", order=1)
        questions = make_questions(lesson, question_text(qid="fuzzed-q"))
        return lesson.read_text(), questions.read_text()


VALID_LESSON, VALID_QUESTIONS = valid_texts()
LAUGHS = "[&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + ", ".join(
    f"&a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, 9)
) + ", *a8]"  # fmt: skip


def in_lesson(old: str, new: str) -> str:
    assert old in VALID_LESSON
    return VALID_LESSON.replace(old, new, 1)


# What the fuzzing found, kept: each of these once crashed the checks or made them take minutes.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    course=file_text(COURSE_YAML),
    lesson=file_text(VALID_LESSON),
    questions=file_text(VALID_QUESTIONS),
)
@example(course="when: 2001-13-45", lesson="", questions="")  # PyYAML's ValueError
@example(course=COURSE_YAML, lesson=VALID_LESSON, questions="## Q\n\n```question\nid: !!int\n```")
@example(
    course=COURSE_YAML, lesson=in_lesson("## Concept\n", "[nul](a\x00b.md)\n## Concept\n"),
    questions=VALID_QUESTIONS,
)  # fmt: skip
@example(
    course=COURSE_YAML, lesson=in_lesson("order: 1\n", "order: 1\nprerequisites: [[a]]\n"),
    questions=VALID_QUESTIONS,
)  # fmt: skip
@example(
    course=COURSE_YAML, lesson=in_lesson("order: 1", f"order: {LAUGHS}"), questions=VALID_QUESTIONS
)
@example(
    course=COURSE_YAML, lesson=in_lesson("## Tips", "## Tips" + " " * 5000 + "x"),
    questions=VALID_QUESTIONS,
)  # fmt: skip
@example(
    course=COURSE_YAML, lesson=in_lesson("## Tips\n", "## Tips\n" + "[" * 200_000 + "\n"),
    questions=VALID_QUESTIONS,
)  # fmt: skip
def test_any_text_becomes_errors_not_a_crash(course, lesson, questions):
    with tempfile.TemporaryDirectory() as folder:
        course_folder = Path(folder) / "course"
        course_folder.mkdir()
        for name, text in [
            ("course.yaml", course),
            ("01-fuzzed.md", lesson),
            ("01-fuzzed.questions.md", questions),
        ]:
            path = course_folder / name
            path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)

        _, errors = content_validate(root=Path(folder))

    assert all(isinstance(error, ContentError) for error in errors)


@pytest.mark.django_db
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(lesson=damaged(VALID_LESSON), questions=damaged(VALID_QUESTIONS))
def test_what_passes_the_checks_loads(lesson, questions):
    with tempfile.TemporaryDirectory() as folder:
        course_folder = Path(folder) / "course"
        course_folder.mkdir()
        (course_folder / "course.yaml").write_text(COURSE_YAML)
        (course_folder / "01-fuzzed.md").write_text(lesson)
        (course_folder / "01-fuzzed.questions.md").write_text(questions)
        _, errors = content_validate(root=Path(folder))
        if errors:
            return  # the first test covers those

        with transaction.atomic():
            content_load(root=Path(folder))
            # Its slug need not be 'fuzzed': YAML keeps the last of two 'slug:' lines.
            assert Lesson.objects.filter(retired=False).count() == 1
            transaction.set_rollback(True)
