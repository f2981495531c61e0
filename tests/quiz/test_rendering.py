"""A question's texts are rendered when it is first shown, not at load (quiz/rendering.py):
through the pages, the version that a graded attempt answered keeps its HTML after an edit."""

import re
from pathlib import Path

import pytest

from authoring.content import content_load
from lessons.markdown import markdown_render
from quiz.models import Attempt, Question
from tests.authoring.factory import make_lesson, make_questions, question_text

pytestmark = pytest.mark.django_db

PROMPT = "Which call queues it?\n\n```python\nsend_email.delay(user.pk)\n```"
# A hint with a link to a sibling lesson file, which the load turns into a site link.
HINT = "- Read [the other lesson](02-other.md) again."


def main(page: str) -> str:
    """The page's main content without its forms' CSRF tokens (new in each response)."""
    html = re.search(r"<main\b.*</main>", page, flags=re.S).group(0)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def start(client, mode: str) -> Attempt:
    response = client.post("/lessons/first/attempts/", {"mode": mode})
    assert response.status_code == 302, response.content
    return Attempt.objects.get(pk=int(re.search(r"/attempts/(\d+)/", response.url).group(1)))


def load(root: Path, *, right: str) -> None:
    """A lesson with one quiz question whose right answer is ``right``."""
    first = make_lesson(root / "course", slug="first", order=1)
    make_lesson(root / "course", slug="other", order=2)
    options = f"- [x] {right}\n  > Yes.\n- [ ] `apply()` at once\n  > No: that runs it here.\n"
    question = question_text(qid="queue-call", prompt=PROMPT, options=options,
                             parts={"Hints": HINT}, meta={"sets": "[quiz]"})  # fmt: skip
    make_questions(first, question)
    content_load(root=root)


def test_a_question_is_rendered_by_the_first_page_that_shows_it_and_stored(client, tmp_path):
    load(tmp_path, right="`delay()` queues it")
    version = Question.objects.get(key="queue-call").current_version
    assert (version.rendered, version.prompt_html, version.options[0]) == (
        False, "", {"key": "a", "correct": True})  # fmt: skip
    assert version.markdown["hints"] == ["Read [the other lesson](/lessons/other/) again."]

    attempt = start(client, "quiz")
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()

    version.refresh_from_db()
    assert (version.rendered, version.markdown) == (True, {})
    assert version.prompt_html == markdown_render(PROMPT)
    assert 'class="highlight"' in version.prompt_html  # Markdown and Pygments, not the shortcut
    assert version.options[0] == {"key": "a", "html": "<code>delay()</code> queues it",
                                  "correct": True, "feedback_html": "<p>Yes.</p>"}  # fmt: skip
    assert version.hints == [markdown_render("Read [the other lesson](/lessons/other/) again.")]
    assert version.prompt_html in page and "<code>delay()</code> queues it" in page


def test_a_graded_attempt_shows_the_html_of_the_version_it_answered_after_an_edit(client, tmp_path):
    load(tmp_path, right="`delay()` queues it")
    attempt = start(client, "quiz")
    client.post(f"/attempts/{attempt.pk}/submit/", {"q1": "a"})
    result = main(client.get(f"/attempts/{attempt.pk}/").content.decode())
    answered = Question.objects.get(key="queue-call").current_version
    stored = (answered.title_html, answered.prompt_html, answered.options, answered.hints)
    assert "<code>delay()</code> queues it" in result

    load(tmp_path, right="`delay()` sends it to the broker")  # a new version, not yet shown

    question = Question.objects.get(key="queue-call")
    assert question.current_version.number == 2 and not question.current_version.rendered
    answered.refresh_from_db()
    assert (answered.title_html, answered.prompt_html, answered.options, answered.hints) == stored
    assert main(client.get(f"/attempts/{attempt.pk}/").content.decode()) == result
    page = client.get(f"/attempts/{start(client, 'quiz').pk}/").content.decode()
    assert "sends it to the broker" in page and "<code>delay()</code> queues it" not in page


def test_a_start_that_is_refused_after_rendering_leaves_no_question_unrendered(client, tmp_path):
    """A practice start of a lesson with no practice question renders the lesson's bank (kept by
    the process) before it is refused, and its transaction rolls the stored HTML back: the next
    start's questions, read back, are rendered from the database again."""
    load(tmp_path, right="`delay()` queues it")
    response = client.post("/lessons/first/attempts/", {"mode": "practice"})
    assert response.status_code == 400
    assert not Question.objects.get(key="queue-call").current_version.rendered

    page = client.get(f"/attempts/{start(client, 'quiz').pk}/").content.decode()

    assert markdown_render(PROMPT) in page
    assert Question.objects.get(key="queue-call").current_version.rendered
