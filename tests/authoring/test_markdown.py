"""What scrolls sideways in a rendered lesson (code, tables) is a named stop for the keyboard;
a batch of texts renders as each text alone."""

import re

from django.conf import settings

from authoring.content import content_validate
from authoring.markdown import markdown_render, markdown_render_many
from authoring.sources import list_items

TABLE = "| Pattern | Threads |\n| --- | --- |\n| sync | 1 per tab |\n"


def test_each_code_block_is_named_and_reachable_by_keyboard():
    html = markdown_render("```python\nx = 1\n```\n\n```output\n1\n```\n\n    indented\n")
    labels = re.findall(r'<pre tabindex="0" role="group" aria-label="([^"]*)"><code>', html)
    assert labels == ["Code: python", "Output", "Code"]
    assert '<span class="n">x</span>' in html  # still highlighted


def test_each_table_scrolls_in_a_box_the_keyboard_reaches():
    raw = '<table class="wide" tabindex="-1"><tr><td>raw</td></tr></table>'
    html = markdown_render(f"{TABLE}\n{raw}\n")
    opener = '<div class="table-scroll" tabindex="0" role="group" aria-label="Table"><table>'
    assert html.count(opener) == 2  # the sanitizer leaves a table no attribute of its own
    assert html.count("</table></div>") == 2


def question_texts(question) -> list[str]:
    parts = question.parts
    return [
        question.title, question.prompt,
        *(text for option in question.options for text in (option.text, option.feedback)),
        parts["solution"].text.strip(), parts["quick check"].text.strip(),
        parts["common mistakes"].text.strip(), *list_items(parts["hints"]),
    ]  # fmt: skip


def test_a_questions_texts_render_together_exactly_as_each_alone():
    """content_load renders a question's dozen texts in one conversion (markdown_render_many):
    for every question of the course, what each text becomes is what it becomes alone."""
    courses, errors = content_validate(root=settings.CONTENT_DIR)
    assert not errors
    questions = [q for c in courses for lesson in c.lessons for q in lesson.questions]
    assert len(questions) > 100
    for question in questions:
        texts = question_texts(question)
        assert markdown_render_many(texts) == [markdown_render(t) for t in texts], question.title


def test_texts_that_would_affect_each_other_are_rendered_alone():
    cases = [
        ["See [docs].", "[docs]: https://example.com/"],  # a definition would reach the first
        ["```python\nx = 1", "after an open fence"],  # the fence would swallow the second
        ["# Heading", "# Heading"],  # the second id would be numbered
        ["<!-- learnsite: next text -->", "two"],
    ]
    for texts in cases:
        assert markdown_render_many(texts) == [markdown_render(t) for t in texts], texts
