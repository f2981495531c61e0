import pytest

from authoring.content import content_load
from lessons.models import Lesson
from tests.authoring.factory import make_lesson, make_questions, question_text

MULTIPLE_OPTIONS = (
    "- [x] Redis lists\n  > Yes: Celery's queue is a list.\n"
    "- [x] Redis streams\n  > Yes: they keep entries.\n"
    "- [ ] Pub/sub channels\n  > No: a message with no subscriber is gone.\n"
    "- [ ] Keyspace misses\n  > No: not a thing.\n"
)


@pytest.fixture
def bank_lesson(db, tmp_path) -> Lesson:
    """A lesson with a 14-question bank: 4 easy, 5 medium and 5 hard, of every type."""
    questions = []
    for difficulty, count in (("easy", 4), ("medium", 4), ("hard", 4)):
        for n in range(1, count + 1):
            sets = "[quiz, practice]" if n == 1 else ("[practice]" if n == 2 else "[]")
            meta = {"id": f"{difficulty}-{n}", "difficulty": difficulty, "sets": sets}
            questions.append(question_text(qid=f"{difficulty}-{n}", meta=meta))
    questions.append(question_text(
        qid="keeps-messages", options=MULTIPLE_OPTIONS,
        meta={"difficulty": "medium", "type": "multiple", "sets": "[quiz]"},
    ))  # fmt: skip
    questions.append(question_text(
        qid="keeps-messages-partly", options=MULTIPLE_OPTIONS,
        meta={"difficulty": "hard", "type": "multiple", "sets": "[]", "partial_credit": "true"},
    ))  # fmt: skip
    lesson_file = make_lesson(tmp_path / "course", slug="bank", order=1, title="The bank")
    make_questions(lesson_file, *questions)
    content_load(root=tmp_path)
    return Lesson.objects.get(slug="bank")


@pytest.fixture
def staff_client(client, django_user_model):
    """A test client logged in as a staff member (the staff pages and the admin)."""
    user = django_user_model.objects.create_user("instructor", password="x" * 12, is_staff=True)
    client.force_login(user)
    return client
