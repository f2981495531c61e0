"""A learner practises with a hint and takes a full test, in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.authoring.factory import make_lesson, make_questions, question_text
from tests.stack import load_course, web_service

pytestmark = pytest.mark.browser


@pytest.fixture
def bank(tmp_path, redis_url):
    questions = [
        question_text(qid=f"b-{difficulty}-{n}", meta={"difficulty": difficulty})
        for difficulty in ("easy", "medium", "hard")
        for n in range(1, 5)
    ]
    lesson = make_lesson(tmp_path / "course", slug="quiz-bank", order=1, title="Quiz bank")
    make_questions(lesson, *questions)
    load_course(tmp_path, redis_url)


def test_practice_with_a_hint(page, bank):
    page.goto("/lessons/quiz-bank/")
    page.get_by_role("button", name=re.compile("^Practice")).click()
    expect(page.get_by_text("Question 1 of 12")).to_be_visible()
    expect(page.locator(".solution")).to_have_count(0)

    page.get_by_role("button", name="Show a hint").click()
    expect(page.locator(".hint")).to_have_count(1)
    expect(page.locator(".hint")).to_contain_text("Which process runs the code?")

    page.get_by_label(re.compile("The right answer to b-easy-1")).check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.locator(".verdict")).to_have_text("Right.")
    expect(page.get_by_text("You used 1 hint.")).to_be_visible()
    expect(page.locator(".solution")).to_contain_text("A broker holds messages")

    page.get_by_role("link", name="Next question").click()
    expect(page.get_by_text("Question 2 of 12 · 1 answered")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?q=2$"))


def test_a_full_ten_question_test_shows_the_score(page, bank):
    page.goto("/lessons/quiz-bank/")
    page.get_by_role("button", name=re.compile("^Test this pattern")).click()
    questions = page.locator("li.question")
    expect(questions).to_have_count(10)
    for index in range(10):
        question = questions.nth(index)
        # Right for the first seven, wrong for the last three.
        wanted = "The right answer" if index < 7 else "A wrong answer"
        question.get_by_label(re.compile(wanted)).check()
    page.get_by_role("button", name="Submit 10 answers").click()

    expect(page.locator(".score-line")).to_contain_text("7 / 10")
    expect(page.locator(".score-line")).to_contain_text("(70%)")
    expect(page.locator(".verdict-line")).to_contain_text("Developing")
    expect(page.locator("table.breakdown tbody tr")).to_have_count(3)
    expect(page.locator(".question.is-wrong")).to_have_count(3)


def test_with_debug_on_a_refused_answer_is_shown_in_its_place(
    browser, bank, redis_url, start_services
):
    # `make run` serves with DEBUG on, where django-htmx's debug script would replace the whole
    # page with any 400 answer.
    web, base_url = web_service(redis_url, DJANGO_DEBUG="1")
    start_services(web)
    page = browser.new_page(base_url=base_url)
    page.goto("/lessons/quiz-bank/")
    page.get_by_role("button", name=re.compile("^Practice")).click()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_text("Choose an answer to question 1.")).to_be_visible()
    expect(page.get_by_text("Question 1 of 12")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.close()


def settled(page) -> None:
    """htmx has made the swapped practice part live (its forms post through htmx again). The
    browser may focus an autofocus element as soon as it is inserted, before that."""
    expect(page.locator("#practice")).not_to_have_class(re.compile("htmx-settling"))


def test_practice_from_the_keyboard_keeps_the_learners_place(page, bank):
    page.goto("/lessons/quiz-bank/")
    page.get_by_role("button", name=re.compile("^Practice")).click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"))
    page.wait_for_load_state()  # htmx has taken over the page's forms

    page.get_by_role("button", name="Show a hint").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".hint").last).to_be_focused()
    settled(page)

    page.get_by_role("button", name="Check my answer").focus()
    page.keyboard.press("Enter")  # nothing chosen yet
    expect(page.locator("#practice .error")).to_be_focused()
    settled(page)

    page.get_by_label(re.compile("The right answer to b-easy-1")).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Check my answer").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".verdict")).to_be_focused()
    expect(page.locator(".verdict")).to_have_text("Right.")
    settled(page)

    page.keyboard.press("Tab")  # on from the verdict, not from the top of the page
    assert page.evaluate("document.activeElement.closest('#practice') !== null")

    page.get_by_role("link", name="Next question").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".question-title")).to_be_focused()
    expect(page.get_by_text("Question 2 of 12 · 1 answered")).to_be_visible()
