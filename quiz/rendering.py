"""Question versions rendered on first need: content_load writes a new version's texts as
markdown, which is cheap, and the first read that shows the version renders them (Markdown,
Pygments: most of a first load's time when done for every question at once) and stores the HTML
in its row, so every process pays for it once.

Each read that shows a version's HTML renders it first: the lesson's question bank (an attempt's
questions come from it), a review's questions, an attempt's questions as read back, a lab's
prediction, the staff pages. The store is idempotent: a version never changes once written, so
two processes that render it at once write the same HTML, and only the first write lands.
"""

from collections.abc import Iterable

from lessons.markdown import markdown_render_inline, markdown_render_many, paragraph_unwrapped

from .models import Question, QuestionVersion

RENDERED_FIELDS = ["title_html", "prompt_html", "options", "solution_html", "quick_check_html",
                   "hints", "mistakes_html", "markdown", "rendered"]  # fmt: skip


def versions_rendered[T: QuestionVersion](*, versions: list[T]) -> list[T]:
    """``versions`` with their HTML: those never rendered are rendered now and stored, in one
    query for all of them."""
    fresh = [version for version in versions if not version.rendered]
    for version in fresh:
        _version_render(version)
    if fresh:
        QuestionVersion.objects.filter(rendered=False).bulk_update(fresh, RENDERED_FIELDS)
    return versions


def questions_rendered(questions: Iterable[Question]) -> list[Question]:
    """``questions`` as a list, their current versions rendered (``versions_rendered``)."""
    questions = list(questions)
    versions_rendered(versions=[question.current_version for question in questions])
    return questions


def version_title_html(*, version: QuestionVersion) -> str:
    """The version's title as HTML, without rendering the rest of it (a list of many)."""
    if version.rendered:
        return version.title_html
    return markdown_render_inline(version.markdown["title"])


def _version_render(version: QuestionVersion) -> None:
    """Every text of the version in one Markdown conversion (titles and options lose their
    paragraph)."""
    texts = version.markdown
    options = texts["options"]
    html = iter(markdown_render_many([
        texts["title"], *(option["text"] for option in options), texts["prompt"],
        *(option["feedback"] for option in options), texts["solution"], texts["quick_check"],
        texts["mistakes"], *texts["hints"],
    ]))  # fmt: skip
    version.title_html = paragraph_unwrapped(next(html))
    options_html = [paragraph_unwrapped(next(html)) for _ in options]
    version.prompt_html = next(html)
    version.options = [
        {"key": option["key"], "html": text, "correct": option["correct"],
         "feedback_html": next(html)}
        for option, text in zip(version.options, options_html, strict=True)
    ]  # fmt: skip
    version.solution_html, version.quick_check_html = next(html), next(html)
    version.mistakes_html = next(html)
    version.hints = list(html)
    version.markdown = {}
    version.rendered = True
