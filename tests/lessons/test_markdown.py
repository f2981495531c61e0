"""What scrolls sideways in a rendered lesson (code, tables) is a named stop for the keyboard;
a batch of texts renders as each text alone; plain text renders as Markdown renders it."""

import random
import re

from django.conf import settings

from authoring.content import content_validate
from authoring.sources import list_items
from lessons.markdown import _markdown_html, _plain_html, markdown_render, markdown_render_many

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


def test_plain_texts_render_as_markdown_renders_them():
    """Plain text skips Markdown (``_plain_html``): every text of the course, and texts at the
    edge of what counts as plain, render exactly as Markdown itself renders them."""
    courses, errors = content_validate(root=settings.CONTENT_DIR)
    assert not errors
    lessons = [lesson for course in courses for lesson in course.lessons]
    texts = [text for lesson in lessons for q in lesson.questions for text in question_texts(q)]
    texts += [section.text for lesson in lessons for section in [lesson.intro, *lesson.sections]]
    texts += [
        "`x``y`", "`x` `y`", "snake_case, max_retries and a2_b3",
        "`<b>&c` d and `x_y*z`, `[x](y)` and `a\\`",
        "Foo\nBar", "1.5 s and 10\n2 more", 'He said "hi" (twice); 100% sure?',
        "snake_case and __init__ and _emphasis_ and a_ b",
        "a `<b>&c` d, `x_y*z`, ` ` and `` a `` and ` unpaired", "Foo\nBar\n===", "Foo\n---",
        "1. one\n2. two\n   goes on\n3. `three`", "- a\n- b\n  c", "3. starts at three\n4. four",
        "1. a\n- b", "- a\n1. b", "- a\n    - nested", "- a\n\n- b", "1.5 s and 10\n2. no list",
        "A line  \nwith a break", "Tab\there", "nbsp\xa0here", "C# and {braces} = é ü ✓ → ≈",
        "x < y & z > w", "[link](x) ![image](y) <http://a.b> *em* **strong**", "#1\n# Head",
        "- \n- b", "1. \n2. b", "", "  ", "`", "a\n\nb", "> quote", "Done!\n!!! note",
    ]  # fmt: skip
    shortcut = [text for text in texts if _plain_html(text) is not None]
    assert len(shortcut) > 2000  # most of the course's texts take the shortcut
    for text in shortcut:  # (the other texts are Markdown's already)
        assert markdown_render(text) == _markdown_html(text), text


# Pieces of text near the edge of plain: markdown's characters, list markers, indents.
PIECES = [*"abXY019 -.\"'()#=:!{}%é+@$^?;,/…*<>&[]|~\\\t\xa0\u00d7", "\n", "\n   ", "\n    ",
          "- ", "1. ", "2. ", "10. ", "`", "`x`", "` `", "``", "_", "a_b", "  ", "\n\n", "---",
          "==="]  # fmt: skip


def test_random_texts_near_the_edge_of_plain_render_as_markdown_renders_them():
    rng = random.Random(13)  # the same texts each run
    texts = ["".join(rng.choices(PIECES, k=rng.randint(1, 30))) for _ in range(20_000)]
    shortcut = [text for text in texts if _plain_html(text) is not None]
    assert len(shortcut) > 500
    for text in shortcut:
        assert markdown_render(text) == _markdown_html(text), text
