"""A learner reads the course in a real Chromium; an author edits a file and the page follows."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.authoring.factory import make_lesson
from tests.authoring.test_course import LESSON_LABS
from tests.stack import content_watch_service, load_course, web_service

pytestmark = pytest.mark.browser


@pytest.fixture
def course(tmp_path, redis_url):
    folder = tmp_path / "course"
    for order, title in enumerate(["Queues first", "Workers second", "Streams third"], start=1):
        make_lesson(folder, slug=f"b-lesson-{order}", order=order, title=title)
    load_course(tmp_path, redis_url)
    return folder


def test_the_course_path_leads_through_the_lessons_in_order(page, course):
    page.goto("/")
    expect(page.get_by_text("0 of 3 lessons read")).to_be_visible()
    page.get_by_role("link", name="Test course").click()
    # expect() waits for the course page; reading the texts at once raced the navigation
    expect(page.locator(".course-path h3 a")).to_have_text(
        ["Queues first", "Workers second", "Streams third"]
    )

    page.get_by_role("link", name="Queues first").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Queues first")
    expect(page.locator(".patterns .section-bad")).to_be_visible()
    expect(page.locator(".patterns .section-good")).to_be_visible()
    expect(page.locator(".toc a")).to_have_count(7)
    page.get_by_role("button", name="Mark this lesson as read").click()
    # htmx swaps in the new reading state and puts the focus on it
    expect(page.get_by_text("Lesson 1 of 3 · 1 read in")).to_be_focused()

    page.get_by_role("link", name="Workers second →").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Workers second")
    expect(page.get_by_text("Lesson 2 of 3 · 1 read in")).to_be_visible()
    page.get_by_role("link", name="← Queues first").click()
    expect(page.get_by_text("you have read this lesson")).to_be_visible()

    page.goto("/courses/course/")
    expect(page.get_by_text("3 lessons · ")).to_contain_text("1 of 3 read")
    expect(page.locator('[aria-current="step"] h3')).to_contain_text("Workers second")
    page.set_viewport_size({"width": 375, "height": 740})  # a phone: nothing scrolls sideways
    for url in ["/courses/course/", "/", "/search/?q=first"]:
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, url


def test_code_blocks_have_a_copy_button(page, course):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/lessons/b-lesson-1/")
    page.get_by_role("button", name="Copy this code").first.click()
    expect(page.get_by_role("button", name="Copied")).to_have_count(1)
    assert "def signup" in page.evaluate("navigator.clipboard.readText()")


def test_an_edited_file_shows_up_in_the_open_page_and_errors_are_shown(
    browser, redis_url, tmp_path, start_services
):
    path = make_lesson(tmp_path / "live", slug="live-edit", order=1, title="Before the edit")
    web, base_url = web_service(redis_url, LEARNSITE_CONTENT_AUTHORING="1")
    start_services(web)
    start_services(content_watch_service(redis_url, tmp_path))
    page = browser.new_page(base_url=base_url)
    page.goto("/lessons/live-edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Before the edit")

    path.write_text(path.read_text().replace("Before the edit", "After the edit"))
    expect(page.get_by_role("heading", level=1)).to_have_text("After the edit")

    path.write_text(path.read_text().replace("impact: medium", "impact: enormous"))
    problem = page.locator(".content-problems li")
    expect(problem).to_contain_text(
        re.compile(r"live/01-live-edit\.md:\d+: 'impact' must be one of")
    )
    # The last good version stays on the page.
    expect(page.get_by_role("heading", level=1)).to_have_text("After the edit")
    page.close()


@pytest.fixture
def the_course(redis_url):
    load_course(settings.CONTENT_DIR, redis_url)


def page_fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


# One test for every lesson: loading the course is most of the cost, and it is loaded again
# after any test that loaded a course of its own.
def test_the_course_fits_a_phone_without_sideways_scrolling(browser, live_url, the_course):
    context = browser.new_context(base_url=live_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    for slug, lab in LESSON_LABS.items():
        page.goto(f"/lessons/{slug}/")
        assert page_fits(page, 375), f"{slug}: the lesson page"  # code and tables scroll inside
        page.get_by_role("button", name=re.compile("^Practice")).click()
        page.locator("input[type=radio], input[type=checkbox]").first.check()
        page.get_by_role("button", name="Check my answer").click()
        expect(page.locator(".solution")).to_be_visible()
        assert page_fits(page, 375), f"{slug}: practice with its solution"
        page.goto(f"/labs/{lab}/?lesson={slug}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert page_fits(page, 375), f"{slug}: the lesson's lab"
    context.close()
