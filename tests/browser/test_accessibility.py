"""axe-core finds no serious or critical problem on any kind of page, in a real Chromium: a
lesson of the course and its practice, quiz, test and review, every lab, the account and staff
pages; the lesson and the labs' tables on a phone too. One browser context visits them all."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.authoring.test_course import LESSON_LABS
from tests.stack import ROOT, load_course

pytestmark = pytest.mark.browser

# Installed by `make test` (the Makefile's AXE_STAMP).
AXE = ROOT / "var/node/node_modules/axe-core/axe.min.js"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
# Its bad and good patterns hold some of the course's longest programs, and its lab is ping's.
LESSON = "streaming-to-the-browser"
LABS = sorted(set(LESSON_LABS.values()))


@pytest.fixture
def the_course(redis_url):
    load_course(settings.CONTENT_DIR, redis_url)


@pytest.fixture
def axe_scan():
    """scan(page, what): axe-core's violations of the page as it is now, kept to report at the
    end of the test, all of them, with the rule, the elements and where to read about it."""
    if not AXE.exists():
        pytest.fail(f"No axe-core at {AXE}: `make test` installs it.")
    source = AXE.read_text()
    found: list[str] = []

    def scan(page: Page, what: str) -> None:
        # Evaluated, not added as a <script>: the Content-Security-Policy refuses inline script,
        # and what Playwright evaluates is not subject to it.
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(source)
        results = page.evaluate("axe.run({resultTypes: ['violations']})")
        for violation in results["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
                found.append(
                    f"{what} ({page.url} at {page.viewport_size['width']} px): "
                    f"{violation['id']} ({violation['impact']}) {violation['help']}, "
                    f"{violation['helpUrl']}\n    on {targets}"
                )

    yield scan
    assert not found, "axe-core found:\n" + "\n".join(found)


def box(page: Page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def read_the_lesson(page: Page, scan) -> None:
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"/lessons/{LESSON}/")
        scan(page, "lesson")
        assert fits(page), "wide code and tables scroll inside themselves"
        # The Copy button sits above its code, not over a line of it.
        button, code = box(page, ".has-copy .copy-button"), box(page, ".has-copy pre")
        assert button["y"] + button["height"] <= code["y"]
    page.set_viewport_size(DESKTOP)
    # The good pattern comes under the bad one, and each program has the full width.
    bad, good = box(page, ".patterns .section-bad"), box(page, ".patterns .section-good")
    assert good["y"] >= bad["y"] + bad["height"]
    widths = page.locator(".patterns pre").evaluate_all(
        "blocks => blocks.map(pre => [pre.scrollWidth, pre.clientWidth])"
    )
    assert all(scroll <= client for scroll, client in widths), widths


def take_each_quiz_mode(page: Page, scan) -> None:
    page.get_by_role("button", name=re.compile("^Practice")).click()
    expect(page.get_by_text(re.compile("^Question 1 of"))).to_be_visible()
    scan(page, "practice")
    page.locator(".option input").first.check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.locator(".solution")).to_be_visible()
    scan(page, "practice, answered")

    page.goto(f"/lessons/{LESSON}/")
    page.get_by_role("button", name=re.compile("^Quiz")).click()
    expect(page.locator("li.question").first).to_be_visible()
    scan(page, "quiz")
    for question in page.locator("li.question").all():
        question.locator(".option input").first.check()  # some right, some wrong
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator(".score-line")).to_be_visible()
    scan(page, "quiz result")

    # (A test is the quiz's page with ten questions: the quiz's scan covers it.)

    page.goto("/review/")
    scan(page, "review")
    page.get_by_role("button", name="Start the review").click()  # the quiz's misses are due
    expect(page.locator(".question-title")).to_be_visible()
    scan(page, "review attempt")


def open_each_lab(page: Page, scan) -> None:
    page.goto("/labs/")
    scan(page, "labs")
    for kind in LABS:
        page.goto(f"/labs/{kind}/")
        expect(page.locator("#broker-status")).to_contain_text("connected")
        scan(page, f"{kind} lab")

    page.set_viewport_size(PHONE)
    page.goto("/labs/ping/")
    page.get_by_role("button", name="Ping the worker").click()
    expect(page.locator("article.run .status").first).to_have_text("Done")
    scan(page, "ping lab, a run done")
    assert fits(page)
    page.goto("/labs/email/")
    page.get_by_role("button", name="Ping", exact=True).click()
    expect(page.locator(".ping-summary td").first).to_have_text("1")
    scan(page, "email lab, its round-trip table")
    assert fits(page)
    table = page.locator(".email-ping .table-scroll")  # a box that could scroll, but need not
    assert table.evaluate("box => box.scrollWidth <= box.clientWidth"), "all four columns show"
    page.set_viewport_size(DESKTOP)


def test_every_kind_of_page_passes_axe(browser, live_url, the_course, axe_scan, django_user_model):
    context = browser.new_context(base_url=live_url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto("/")
    axe_scan(page, "home")
    read_the_lesson(page, axe_scan)
    take_each_quiz_mode(page, axe_scan)
    open_each_lab(page, axe_scan)

    page.goto("/accounts/signup/")
    axe_scan(page, "signup")
    django_user_model.objects.create_user("instructor", password="x" * 12, is_staff=True)
    page.goto("/accounts/login/")
    axe_scan(page, "login")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill("x" * 12)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as instructor")).to_be_visible()
    for path in (f"/staff/quiz/?lesson={LESSON}", "/staff/quiz/gradebook/"):
        page.goto(path)
        axe_scan(page, path)
    context.close()
