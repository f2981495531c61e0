"""The one place markdown becomes HTML: a fixed list of extensions, then an allow-list sanitizer.

content_load renders questions with it; a lesson's body is rendered the first time a page needs
it (``lessons.body``), and stored: never per request.
"""

import re
import threading
from html import escape

import markdown
import nh3
from pygments.formatters import HtmlFormatter

from .fences import split_fences

# A block that may scroll sideways (a long line, a wide table) is a named stop for the keyboard:
# what scrolls must be reachable without a mouse. A group, not a region: a landmark each would
# crowd a screen reader's list of the page's landmarks.
SCROLLS = 'tabindex="0" role="group"'


# (style, class prefix) -> the token classes and their styles, which Pygments builds again for
# each code block (a quarter of highlighting a short one) and only reads afterwards.
_stylesheets: dict[tuple, tuple[dict, dict]] = {}


class CodeFormatter(HtmlFormatter):
    """Pygments' HTML, in a <pre> that the keyboard reaches, named for its language."""

    LABELS = {"output": "Output", "text": "Code"}

    def _create_stylesheet(self) -> None:
        key = (self.style, self.classprefix)
        if key not in _stylesheets:
            super()._create_stylesheet()
            _stylesheets[key] = (self.ttype2class, self.class2style)
        self.ttype2class, self.class2style = _stylesheets[key]

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

# Built once: nh3.clean builds its rules again on every call, several times the cost of a
# short text's cleaning.
SANITIZER = nh3.Cleaner(
    tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"}
)

# Shown above a runnable example and its output (content/README.md, "Runnable examples").
CAPTIONS = {
    ("run",): "Runnable: save it as a file and run it with Python while Redis is running.",
    ("run", "worker"): (
        "Runnable: save it as <code>tasks.py</code>, start a worker with "
        "<code>celery -A tasks worker</code>, then run <code>python tasks.py</code>."
    ),
    "output": "It prints:",
}


# Building a Markdown instance (its extensions and their patterns) costs more than converting
# a short text: one per thread, reset before each use.
_local = threading.local()


def _converter() -> markdown.Markdown:
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = markdown.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
        _local.converter = converter
    return converter.reset()


def markdown_render(text: str) -> str:
    html = _plain_html(text)
    return _markdown_html(text) if html is None else html


def _markdown_html(text: str) -> str:
    """What Markdown makes of ``text``: ``markdown_render`` without its shortcut."""
    return _finished(_converter().convert(_runnable_captioned(text)))


# Plain text: one paragraph, or one list with an item a line (and lines that go on under it),
# whose lines each start with a letter, a digit, a quote, a bracket or code (no list, heading,
# quote, table or code block) and hold no character that starts markdown or HTML but single
# backticks around code and underscores inside words. Most of a question's texts (titles,
# options, feedback, hints, solutions) are plain text, and Markdown costs a hundred times what
# escaping one does.
_PLAIN_LINE = re.compile(
    r"(?=[A-Za-z0-9\"'(`])(?!\d+\.( |$))(?:"  # no list item
    r"[^\\*_\[\]<>&|~`]"  # no character that starts markdown or HTML
    r"|(?<=[A-Za-z0-9])_(?=[A-Za-z0-9])"  # an underscore inside a word: never emphasis
    r"|`[^`\\]+`(?!`)"  # code (two spans side by side would be one)
    r")*"
)
_LIST_ITEM = {"ul": re.compile(r"- (.*)"), "ol": re.compile(r"\d+\. (.*)")}
_GOES_ON = re.compile(r" {0,3}(.*)")
_CODE_SPAN = re.compile(r"`([^`]+)`")


def _plain_html(text: str) -> str | None:
    """``text`` as Markdown renders it, if it is plain text (see _PLAIN_LINE); else None."""
    if not text.strip():
        return ""
    if not text.replace("\n", "").isprintable():  # no tab, control or invisible character
        return None
    lines = text.split("\n")
    tag = "ul" if lines[0].startswith("- ") else "ol" if lines[0].startswith("1. ") else ""
    items: list[str] = []
    for line in lines:
        if line[-1:] in ("", " "):
            return None
        item = _LIST_ITEM[tag].fullmatch(line) if tag else None
        if item is not None:
            items.append(item.group(1))
            line = item.group(1)
        elif tag:
            items[-1] += "\n" + line  # as Markdown keeps it, with its indent
            line = _GOES_ON.fullmatch(line).group(1)
        if not _PLAIN_LINE.fullmatch(line):
            return None
    if not tag:
        return _plain_inline(text, "<p>", "</p>")
    html = [_plain_inline(item, "<li>", "</li>") for item in items]
    return None if None in html else f"<{tag}>\n" + "\n".join(html) + f"\n</{tag}>"


def _plain_inline(text: str, opening: str, closing: str) -> str | None:
    """Plain text with its code spans as HTML, between ``opening`` and ``closing``."""
    if "`" not in text:
        return opening + text + closing
    codes = [match.strip() for match in _CODE_SPAN.findall(text)]
    if "" in codes:  # a span of spaces: left to Markdown
        return None
    pieces = _CODE_SPAN.split(text)[::2]
    code_html = [f"<code>{escape(code, quote=False)}</code>" for code in codes]
    return opening + "".join(p + c for p, c in zip(pieces, [*code_html, ""], strict=True)) + closing


def _finished(html: str) -> str:
    html = SANITIZER.clean(html)
    # The sanitizer leaves no attribute on a table, so each one opens with this exact tag.
    return html.replace(
        "<table>", f'<div class="table-scroll" {SCROLLS} aria-label="Table"><table>'
    ).replace("</table>", "</table></div>")


# Between the texts of one batch: an HTML comment on a line of its own, which Markdown passes
# through as a block of its own.
_BETWEEN = "<!-- learnsite: next text -->"
# What one text could pass on to the next in a shared document: a reference link's definition,
# a heading (the table of contents numbers repeated ids).
_SHARED = re.compile(r"^ {0,3}(\[[^\]]+\]:|#)", re.MULTILINE)


def markdown_render_many(texts: list[str]) -> list[str]:
    """``markdown_render`` of each text, in one conversion where that gives the same HTML:
    Markdown's cost per call is most of a short text's, and a question has a dozen texts."""
    plain = [_plain_html(text) for text in texts]
    rest = [text for text, html in zip(texts, plain, strict=True) if html is None]
    rendered = iter(_markdown_html_many(rest))
    return [next(rendered) if html is None else html for html in plain]


def _markdown_html_many(texts: list[str]) -> list[str]:
    if len(texts) < 2 or any(_BETWEEN in text or _SHARED.search(text) for text in texts):
        return [_markdown_html(text) for text in texts]
    source = f"\n\n{_BETWEEN}\n\n".join(_runnable_captioned(text) for text in texts)
    parts = _converter().convert(source).split(_BETWEEN)
    if len(parts) != len(texts):  # a text that Markdown read on past its end (an open fence)
        return [_markdown_html(text) for text in texts]
    return [_finished(part.strip("\n")) for part in parts]


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
    return paragraph_unwrapped(markdown_render(text))


def paragraph_unwrapped(html: str) -> str:
    """``html`` without its paragraph, when it is one paragraph (``markdown_render_inline``)."""
    html = html.strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
