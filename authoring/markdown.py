"""The one place markdown becomes HTML: a fixed list of extensions, then an allow-list sanitizer.

Run once per file by content_load, never per request.
"""

from html import escape

import markdown
import nh3
from pygments.formatters import HtmlFormatter

from .sources import split_fences

# A block that may scroll sideways (a long line, a wide table) is a named stop for the keyboard:
# what scrolls must be reachable without a mouse. A group, not a region: a landmark each would
# crowd a screen reader's list of the page's landmarks.
SCROLLS = 'tabindex="0" role="group"'


class CodeFormatter(HtmlFormatter):
    """Pygments' HTML, in a <pre> that the keyboard reaches, named for its language."""

    LABELS = {"output": "Output", "text": "Code"}

    def __init__(self, *, lang_str: str, **options) -> None:
        super().__init__(**options)
        self.label = self.LABELS.get(lang_str, f"Code: {lang_str}")

    def wrap(self, source):
        yield 0, f'<pre {SCROLLS} aria-label="{escape(self.label)}"><code>'
        yield from source
        yield 0, "</code></pre>"


EXTENSIONS = ["fenced_code", "codehilite", "tables", "toc", "admonition", "sane_lists"]
EXTENSION_CONFIGS = {
    "codehilite": {
        "guess_lang": False,
        "css_class": "highlight",
        "pygments_formatter": CodeFormatter,
        "lang_prefix": "",
    },
    "toc": {"permalink": False},
}
ALLOWED_TAGS = nh3.ALLOWED_TAGS | {
    "div",
    "span",
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}
ALLOWED_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "div": {"class"},
    "span": {"class"},
    "pre": {"class", "tabindex", "role", "aria-label"},  # CodeFormatter's
    "code": {"class"},
    "p": {"class"},
    "th": {"align"},
    "td": {"align"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}


# Shown above a runnable example and its output (content/README.md, "Runnable examples").
CAPTIONS = {
    ("run",): "Runnable: save it as a file and run it with Python while Redis is running.",
    ("run", "worker"): (
        "Runnable: save it as <code>tasks.py</code>, start a worker with "
        "<code>celery -A tasks worker</code>, then run <code>python tasks.py</code>."
    ),
    "output": "It prints:",
}


def markdown_render(text: str) -> str:
    html = markdown.markdown(
        _runnable_captioned(text), extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS
    )
    html = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
    )
    # The sanitizer leaves no attribute on a table, so each one opens with this exact tag.
    return html.replace(
        "<table>", f'<div class="table-scroll" {SCROLLS} aria-label="Table"><table>'
    ).replace("</table>", "</table></div>")


def _runnable_captioned(text: str) -> str:
    """Fences of runnable examples lose the words Markdown would not read, and gain a caption."""
    lines = text.splitlines()
    _, blocks = split_fences(lines, 0)
    for block in reversed(blocks):
        caption = CAPTIONS.get("output" if block.info == "output" else block.flags)
        if block.flags:
            fence = lines[block.line]
            lines[block.line] = fence[: fence.index(block.info) + len(block.info)]
        if caption and not lines[block.line][:1].isspace():  # not inside a list item
            lines[block.line : block.line] = ["", f'<p class="code-caption">{caption}</p>', ""]
    return "\n".join(lines)


def markdown_render_inline(text: str) -> str:
    """One line of markdown (a title, an option) without its wrapping paragraph."""
    html = markdown_render(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
