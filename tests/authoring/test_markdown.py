"""What scrolls sideways in a rendered lesson (code, tables) is a named stop for the keyboard."""

import re

from authoring.markdown import markdown_render

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
