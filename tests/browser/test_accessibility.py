"""axe-core finds no serious or critical problem on any kind of page, in a real Chromium: the
course's lessons, every quiz mode, every lab, the account and staff pages, on a desktop and on
a phone."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.authoring.test_course import LESSON_LABS
from tests.stack import ROOT, load_course

pytestmark = pytest.mark.browser

# `make test` installs it (the Makefile's axe target).
AXE = ROOT / "var/node/node_modules/axe-core/axe.min.js"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
# The lesson whose bad and good patterns hold the longest programs, and whose lab is ping.
LESSON = "streaming-to-the-browser"


@pytest.fixture
def the_course(redis_url):
    load_course(settings.CONTENT_DIR, redis_url)


@pytest.fixture
def axe_scan():
    if not AXE.exists():
        pytest.fail("No axe-core: `make test` installs it (npm install into var/node).")
    source = AXE.read_text()
    found: list[str] = []

    def scan(page: Page, what: str) -> None:
        # Evaluated, not added as a <script>: the site's Content-Security-Policy refuses inline
        # script, and Playwright's evaluate is not subject to it.
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(source)
        results = page.evaluate("axe.run({resultTypes: ['violations']})")
        for violation in results["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
                found.append(
                    f"{what} ({page.url}, {page.viewport_size['width']} px): "
                    f"{violation['id']} [{violation['impact']}] {violation['help']} "
                    f"{violation['helpUrl']}\n    on {targets}"
                )

    yield scan
    assert not found, "\n".join(found)


def test_every_kind_of_page_passes_axe(browser, live_url, the_course, axe_scan):
    context = browser.new_context(base_url=live_url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto("/")
    axe_scan(page, "home")
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"/lessons/{LESSON}/")
        axe_scan(page, "lesson")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name=re.compile("^Practice")).click()
    expect(page.get_by_text(re.compile("^Question 1 of"))).to_be_visible()
    axe_scan(page, "practice")
    page.locator("input[type=radio], input[type=checkbox]").first.check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.locator(".solution")).to_be_visible()
    axe_scan(page, "practice, answered")

    page.goto(f"/lessons/{LESSON}/")
    page.get_by_role("button", name=re.compile("^Quiz")).click()
    expect(page.locator("li.question").first).to_be_visible()
    axe_scan(page, "quiz")
    for question in page.locator("li.question").all():
        question.locator("input").first.check()
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator(".score-line")).to_be_visible()
    axe_scan(page, "quiz result")

    page.goto(f"/lessons/{LESSON}/")
    page.get_by_role("button", name=re.compile("^Test this pattern")).click()
    expect(page.locator("li.question")).to_have_count(10)
    axe_scan(page, "test")

    page.goto("/review/")
    axe_scan(page, "review")
    page.get_by_role("button", name="Start the review").click()
    axe_scan(page, "review attempt")

    page.goto("/labs/")
    axe_scan(page, "labs")
    for kind in sorted(set(LESSON_LABS.values())):
        page.goto(f"/labs/{kind}/")
        expect(page.locator("#broker-status")).to_contain_text("connected")
        axe_scan(page, f"{kind} lab")

    page.set_viewport_size(PHONE)
    page.goto("/labs/ping/")
    page.get_by_role("button", name="Ping the worker").click()
    expect(page.locator("article.run .status").first).to_have_text("Done")
    axe_scan(page, "ping lab with a run")
    page.goto("/labs/email/")
    page.get_by_role("button", name="Ping", exact=True).click()
    expect(page.locator(".ping-summary")).to_be_visible()
    axe_scan(page, "email lab with pings")
    page.screenshot(path="/tmp/email-375.png", full_page=True)
    page.set_viewport_size(DESKTOP)

    for path in ("/accounts/login/", "/accounts/signup/"):
        page.goto(path)
        axe_scan(page, path)

    context.close()
