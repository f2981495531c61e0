"""Rules for every template file that Django itself does not enforce."""

import re
from pathlib import Path

import pytest

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_comments_close_on_their_line(path):
    """A {# comment #} ends on its own line; over several lines Django shows it as text."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        assert line.count("{#") == line.count("#}"), f"{path.name}:{number}: use {{% comment %}}"


# What the Content-Security-Policy (settings.SECURE_CSP) blocks, or what needs eval, which htmx
# is not allowed (allowEval: false in base.html): code and styles belong in static/.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>"  # an inline script body
    r"|<style\b|\sstyle="  # inline styles
    r"|\son[a-z]+=|\shx-on[:-]"  # event handler attributes
    r"|javascript:|[\"']js:"  # script URLs, hx-vals='js:...'
    r"|hx-trigger=\"[^\"]*\["  # an htmx event filter: [...] is evaluated
)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_no_inline_script_style_or_eval(path):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        assert not INLINE_CODE.search(line), f"{path.name}:{number}: move it to static/"
