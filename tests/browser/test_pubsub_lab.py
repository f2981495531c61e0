"""Publish and subscribe in a real Chromium: two tabs, each a real Redis subscriber."""

import re

import pytest
from playwright.sync_api import expect

from labs.kinds.pubsub.fold import PubsubFold
from tests.authoring.factory import make_lesson, make_questions, predict_question_text
from tests.stack import load_course

pytestmark = pytest.mark.browser


def open_subscribed(page) -> str:
    """Opens the lab; returns the tab's subscriber name once its feed is subscribed."""
    page.goto("/labs/pubsub/")
    expect(page.locator("#feed-status")).to_contain_text("Subscribed")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    return page.locator("#feed-title code").inner_text()


def publish(page, channel: str, message: str) -> None:
    page.get_by_label("Channel", exact=True).fill(channel)
    page.get_by_label("Message", exact=True).fill(message)
    page.get_by_role("button", name="PUBLISH", exact=True).click()


def test_with_two_tabs_open_both_receive_and_publish_counts_two(browser, live_url):
    context = browser.new_context(base_url=live_url)
    first, second = context.new_page(), context.new_page()
    first_name, second_name = open_subscribed(first), open_subscribed(second)
    assert first_name != second_name

    publish(first, "updates", "hello, both tabs")

    expect(first.locator("#pubsub-result")).to_contain_text("2 subscribers received it")
    for page in (first, second):
        expect(page.locator("#feed-messages")).to_contain_text("updates: hello, both tabs")
        # Both tabs' reports reach both pages: who received the message, by name.
        latest = page.locator("[data-publish]").first
        expect(latest).to_contain_text(first_name)
        expect(latest).to_contain_text(second_name)
    context.close()


def test_a_prediction_then_what_the_publish_showed(page, redis_url, tmp_path):
    question = predict_question_text(lab="pubsub", options=PubsubFold.outcomes, expected="1")
    make_questions(make_lesson(tmp_path / "course"), question)
    load_course(tmp_path, redis_url)
    open_subscribed(page)
    page.get_by_label("Two", exact=True).check()
    page.get_by_role("button", name="Record my prediction").click()
    expect(page.locator("#prediction-result")).to_contain_text("Prediction recorded: Two")
    outcome = page.locator(".prediction-outcome")
    expect(outcome).to_contain_text("You predicted Two. Now publish")

    publish(page, "updates", "who hears this?")

    expect(page.locator("#pubsub-result")).to_contain_text("1 subscriber received it")
    expect(outcome).to_contain_text(re.compile(r"You predicted Two; the run showed One: not what"))


def test_nobody_listening_loses_the_message_while_the_list_keeps_it(page):
    open_subscribed(page)
    page.get_by_label("Channel", exact=True).fill("elsewhere")
    page.get_by_label("Message", exact=True).fill("anyone there?")
    page.get_by_role("button", name="Send it all three ways").click()
    expect(page.locator("#pubsub-result")).to_contain_text("the message is gone")
    expect(page.locator("[data-publish]").first).to_contain_text("Gone: nobody was subscribed")

    page.get_by_role("button", name="Read now (BRPOP)").click()
    expect(page.locator("#pubsub-result")).to_contain_text("BRPOP elsewhere: anyone there?")
    expect(page.locator("#lab-goals .is-done")).to_contain_text("see it lost on the channel")


@pytest.mark.parametrize("path", ["/labs/pubsub/", "/labs/listen/"])
def test_the_labs_fit_a_phone(browser, live_url, path):
    context = browser.new_context(base_url=live_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
