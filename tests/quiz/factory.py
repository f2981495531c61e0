"""Small makers of quiz data: a loaded lesson, learners, and attempts answered through the quiz
services (attempt_start, attempt_submit, attempt_answer), so every answer is graded for real.

Each takes only what a test changes; names and slugs are unique by default.
"""

from itertools import count
from pathlib import Path

from authoring.content import content_load
from learners.models import Learner
from lessons.models import Lesson
from quiz.models import Attempt
from quiz.services import attempt_answer, attempt_start, attempt_submit
from tests.authoring.factory import make_lesson, make_questions, question_text

_numbers = count(1)


def options_text(qid: str, *, right: str = "a", keys: str = "abc") -> str:
    """Options for ``question_text``: one per key, the ``right`` ones marked '- [x]'."""
    return "".join(
        f"- [{'x' if key in right else ' '}] Option {key} of {qid}.\n  > Feedback on {key}.\n"
        for key in keys
    )


def make_quiz_lesson(root: Path, *questions: str, slug: str = "") -> Lesson:
    """A lesson under ``root`` with these questions (``question_text`` strings; one valid
    question when none is given), loaded with content_load."""
    slug = slug or f"stats-lesson-{next(_numbers)}"
    lesson_file = make_lesson(root / "course", slug=slug)
    make_questions(lesson_file, *questions)
    content_load(root=root)
    return Lesson.objects.get(slug=slug)


def make_question(
    qid: str, *, right: str = "a", keys: str = "abc", kind: str = "single", partial: bool = False
) -> str:
    """The text of a question in the quiz and practice sets, with options ``keys``."""
    meta = {"type": kind, "partial_credit": "true" if partial else None}
    return question_text(qid=qid, options=options_text(qid, right=right, keys=keys), meta=meta)


def make_learner(*, key: str = "") -> Learner:
    return Learner.objects.create(key=key or f"stats-learner-{next(_numbers)}")


def make_started_attempt(
    *, lesson: Lesson, mode: str = "quiz", learner: Learner | None = None
) -> Attempt:
    return attempt_start(learner=learner or make_learner(), mode=mode, lesson=lesson)


def make_submitted_attempt(
    *,
    lesson: Lesson,
    picks: dict[str, str | list[str]],
    mode: str = "quiz",
    learner: Learner | None = None,
) -> Attempt:
    """A finished quiz or test: ``picks`` maps each question key asked to the options chosen."""
    attempt = make_started_attempt(lesson=lesson, mode=mode, learner=learner)
    items = attempt.items.select_related("version__question")
    answers = {item.position: picks[item.version.question.key] for item in items}
    return attempt_submit(attempt=attempt, answers=answers)


def make_practice_answers(
    *, lesson: Lesson, picks: dict[str, str | list[str]], learner: Learner | None = None
) -> Attempt:
    """A practice attempt answering the questions in ``picks``, one at a time (it finishes
    when ``picks`` covers every practice question)."""
    attempt = make_started_attempt(lesson=lesson, mode="practice", learner=learner)
    for item in attempt.items.select_related("version__question"):
        if item.version.question.key in picks:
            attempt_answer(
                attempt=attempt, position=item.position, chosen=picks[item.version.question.key]
            )
    attempt.refresh_from_db()
    return attempt
