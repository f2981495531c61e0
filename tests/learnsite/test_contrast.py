"""Text colours read at WCAG AA (4.5:1) on the background they are drawn on."""

import re

from django.conf import settings

CSS = settings.BASE_DIR / "static" / "css"
AA = 4.5


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted([luminance(foreground), luminance(background)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def site_colour(name: str) -> str:
    return re.search(rf"--{name}: (#[0-9a-fA-F]+)", (CSS / "site.css").read_text()).group(1)


def test_contrast_is_measured_as_wcag_says():
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_every_code_colour_reads_on_the_code_background():
    code_bg = site_colour("code-bg")
    rules = re.findall(
        r"^\.highlight (\.\w+) \{ (?:[^}]*?; )?color: (#[0-9a-fA-F]+)",
        (CSS / "pygments.css").read_text(),
        re.M,
    )
    assert len(rules) > 20
    low = {
        token: round(contrast(colour, code_bg), 2)
        for token, colour in rules
        if contrast(colour, code_bg) < AA
    }
    assert low == {}


def test_the_sites_text_colours_read_on_white_and_on_code():
    for name in ("fg", "muted", "accent", "ok", "err"):
        for background in (site_colour("bg"), site_colour("code-bg")):
            assert contrast(site_colour(name), background) >= AA, (name, background)
