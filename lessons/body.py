"""A lesson's body rendered on first need: content_load writes it as markdown, which is cheap,
and the first page that shows it renders it (Pygments, Markdown: most of a load's cost when
done for every lesson at once) and stores the HTML in its row, so every process of the site
pays for it once per content version.

The store is idempotent: two processes that render the same body at once write the same HTML,
and a body that a newer load replaced is not overwritten with the old one's HTML.
"""

from .markdown import markdown_render, markdown_render_inline
from .models import Lesson


def lesson_body_rendered(*, lesson: Lesson) -> Lesson:
    """``lesson`` with its body as HTML (``intro_html``, "html" parts in ``sections``):
    rendered and stored now if it never was."""
    if lesson.body_rendered:
        return lesson
    lesson.intro_html = markdown_render(lesson.intro_markdown)
    lesson.sections = [
        {**section, "parts": [
            part for part in map(_part_rendered, section["parts"])
            if part["type"] != "html" or part["html"]
        ]}
        for section in lesson.sections
    ]  # fmt: skip
    lesson.intro_markdown = ""
    lesson.body_rendered = True
    Lesson.objects.filter(
        pk=lesson.pk, content_hash=lesson.content_hash, body_rendered=False
    ).update(intro_html=lesson.intro_html, sections=lesson.sections, intro_markdown="",
             body_rendered=True)  # fmt: skip
    return lesson


def _part_rendered(part: dict) -> dict:
    if part["type"] != "markdown":  # a lab: nothing to render
        return part
    rendered = {"type": "html", "html": markdown_render(part["text"])}
    if "effect" in part:
        rendered["effect"] = markdown_render_inline(part["effect"])
    return rendered
