"""questions_sync: the quiz side of loading content, without files or markdown."""

from itertools import count

import pytest

from lessons.models import Course, Lesson
from quiz import services
from quiz.models import Question, QuestionVersion
from quiz.rendering import versions_rendered
from quiz.services import QuestionContent, QuestionDraft, QuestionsSynced, questions_sync

_numbers = count(1)


def make_lesson_row(*, slug: str = "") -> Lesson:
    number = next(_numbers)
    course, _ = Course.objects.get_or_create(slug="sync-course", defaults={"title": "Sync"})
    return Lesson.objects.create(
        course=course,
        slug=slug or f"sync-lesson-{number}",
        title=f"Sync lesson {number}",
        order=number,
        minutes=1,
        source_path=f"sync-{number}.md",
        content_hash="",
    )


def make_draft(key: str, *, position: int = 1, text: str = "Pick one.", sets=("quiz",)
               ) -> QuestionDraft:  # fmt: skip
    """A draft whose hash follows ``text``."""
    return QuestionDraft(
        key=key,
        position=position,
        sets=list(sets),
        content_hash=f"hash of {text}",
        content=QuestionContent(
            difficulty="easy",
            kind="single",
            partial_credit=False,
            options=[{"key": "a", "correct": True}, {"key": "b", "correct": False}],
            markdown={
                "title": f"Title of {key}",
                "prompt": text,
                "options": [
                    {"text": "Right", "feedback": "Yes."},
                    {"text": "Wrong", "feedback": "No."},
                ],
                "solution": "Because.",
                "quick_check": "Check.",
                "hints": ["A hint."],
                "mistakes": "A mistake.",
            },
        ),
    )


@pytest.mark.django_db
def test_new_questions_get_a_first_version_with_their_markdown_rendered_when_first_shown():
    lesson = make_lesson_row()
    synced = questions_sync(
        lessons={lesson: [make_draft("sync-a", sets=("quiz", "practice")),
                          make_draft("sync-b", position=2)]}
    )  # fmt: skip
    assert synced == QuestionsSynced(versions_created=2, retired=0)
    first = Question.objects.get(key="sync-a")
    assert (first.lesson, first.position, first.sets, first.retired) == (
        lesson, 1, ["practice", "quiz"], False)  # fmt: skip
    version = first.current_version
    assert (version.number, version.content_hash, version.rendered, version.prompt_html) == (
        1, "hash of Pick one.", False, "")  # fmt: skip
    assert version.options == [{"key": "a", "correct": True}, {"key": "b", "correct": False}]
    assert list(lesson.questions.values_list("key", flat=True)) == ["sync-a", "sync-b"]

    versions_rendered(versions=[version])

    version.refresh_from_db()  # stored, and the markdown no longer kept
    assert (version.rendered, version.markdown) == (True, {})
    assert (version.title_html, version.prompt_html, version.hints) == (
        "Title of sync-a", "<p>Pick one.</p>", ["<p>A hint.</p>"])  # fmt: skip
    assert version.options == [
        {"key": "a", "html": "Right", "correct": True, "feedback_html": "<p>Yes.</p>"},
        {"key": "b", "html": "Wrong", "correct": False, "feedback_html": "<p>No.</p>"},
    ]
    assert (version.solution_html, version.quick_check_html, version.mistakes_html) == (
        "<p>Because.</p>", "<p>Check.</p>", "<p>A mistake.</p>")  # fmt: skip


@pytest.mark.django_db
def test_the_same_drafts_again_change_nothing():
    lesson = make_lesson_row()
    questions_sync(lessons={lesson: [make_draft("sync-same")]})
    question = Question.objects.get(key="sync-same")
    synced = questions_sync(lessons={lesson: [make_draft("sync-same")]})
    assert synced == QuestionsSynced()
    assert QuestionVersion.objects.filter(question=question).count() == 1
    assert Question.objects.get(key="sync-same").current_version_id == question.current_version_id


@pytest.mark.django_db
def test_a_changed_question_gets_a_new_version_and_the_old_one_stays():
    lesson = make_lesson_row()
    questions_sync(lessons={lesson: [make_draft("sync-edit", text="Old.")]})
    synced = questions_sync(lessons={lesson: [make_draft("sync-edit", text="New.")]})
    assert synced.versions_created == 1
    versions = QuestionVersion.objects.filter(question__key="sync-edit")
    assert [(v.number, v.markdown["prompt"]) for v in versions] == [(1, "Old."), (2, "New.")]
    # Back to the old text: the question points at its first version again, none is added.
    synced = questions_sync(lessons={lesson: [make_draft("sync-edit", text="Old.")]})
    assert synced.versions_created == 0
    assert Question.objects.get(key="sync-edit").current_version.number == 1
    assert versions.count() == 2


@pytest.mark.django_db
def test_questions_left_out_are_retired_never_deleted_and_come_back():
    lesson = make_lesson_row()
    questions_sync(lessons={lesson: [make_draft("sync-keep"), make_draft("sync-drop")]})
    synced = questions_sync(lessons={lesson: [make_draft("sync-keep")]})
    assert synced == QuestionsSynced(versions_created=0, retired=1)
    assert Question.objects.get(key="sync-drop").retired
    assert list(Question.objects.active().values_list("key", flat=True)) == ["sync-keep"]
    # No drafts at all (the lesson itself was retired): every question of it is.
    assert questions_sync(lessons={lesson: []}) == QuestionsSynced(retired=1)
    assert questions_sync(lessons={lesson: [make_draft("sync-drop")]}).versions_created == 0
    assert not Question.objects.get(key="sync-drop").retired


@pytest.mark.django_db
def test_a_question_moved_to_another_lesson_follows_its_key():
    first, second = make_lesson_row(), make_lesson_row()
    questions_sync(lessons={first: [make_draft("sync-move")]})
    synced = questions_sync(lessons={second: [make_draft("sync-move", position=3)]})
    assert synced == QuestionsSynced()
    question = Question.objects.get(key="sync-move")
    assert (question.lesson, question.position) == (second, 3)
    assert question.versions.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("group", [5000, 1], ids=["one group", "a group per lesson"])
def test_many_lessons_at_once_each_get_their_drafts(group, monkeypatch):
    """As a load writes them: all its lessons in one call, in groups of about this many drafts."""
    monkeypatch.setattr(services, "SYNC_GROUP_QUESTIONS", group)
    first, second, third = make_lesson_row(), make_lesson_row(), make_lesson_row()
    questions_sync(lessons={first: [make_draft("many-move"), make_draft("many-drop")]})
    synced = questions_sync(lessons={
        first: [],  # its file removed: its questions retired, but the one that moved
        second: [make_draft("many-move", position=2, text="Edited."), make_draft("many-new")],
        third: [make_draft("many-third")],
    })  # fmt: skip
    assert synced.versions_created == 3  # the moved question edited, two new ones
    active = Question.objects.active().order_by("key")
    assert [(q.key, q.lesson, q.position, q.current_version.number) for q in active] == [
        ("many-move", second, 2, 2), ("many-new", second, 1, 1), ("many-third", third, 1, 1),
    ]  # fmt: skip
    assert Question.objects.get(key="many-drop").retired
