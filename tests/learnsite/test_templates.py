"""Rules for every template file that Django itself does not enforce."""

from pathlib import Path

import pytest

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_comments_close_on_their_line(path):
    """A {# comment #} ends on its own line; over several lines Django shows it as text."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        assert line.count("{#") == line.count("#}"), f"{path.name}:{number}: use {{% comment %}}"
