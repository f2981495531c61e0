"""The one place markdown becomes HTML: a fixed list of extensions, then an allow-list sanitizer.

Run once per file by content_load, never per request.
"""

import markdown
import nh3

EXTENSIONS = ["fenced_code", "codehilite", "tables", "toc", "admonition", "sane_lists"]
EXTENSION_CONFIGS = {
    "codehilite": {"guess_lang": False, "css_class": "highlight"},
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
    "pre": {"class"},
    "code": {"class"},
    "p": {"class"},
    "th": {"align"},
    "td": {"align"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}


def markdown_render(text: str) -> str:
    html = markdown.markdown(text, extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
    )


def markdown_render_inline(text: str) -> str:
    """One line of markdown (a title, an option) without its wrapping paragraph."""
    html = markdown_render(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
