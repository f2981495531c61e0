"""A learner types Redis commands in a real Chromium: redis-cli's replies, the command history,
messages streamed in, and a challenge met."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def type_line(page: Page, line: str) -> None:
    """Type a line at the prompt and run it with Enter; wait until the prompt is free again."""
    prompt = page.get_by_label("Command")
    entries = page.locator("#console-transcript .console-entry")
    count = entries.count()
    prompt.fill(line)
    prompt.press("Enter")
    expect(entries).to_have_count(count + 1)
    expect(prompt).to_have_value("")


def last_reply(page: Page):
    return page.locator("#console-transcript .console-reply").last


def test_commands_answer_like_redis_cli_and_the_up_arrow_recalls_them(page):
    page.goto("/labs/console/")
    expect(page.locator("#broker-status")).to_contain_text("connected")

    type_line(page, "SET greeting 'hello world'")
    expect(last_reply(page)).to_have_text("OK")
    type_line(page, "GET greeting")
    expect(last_reply(page)).to_have_text('"hello world"')
    type_line(page, "RPUSH letters a b")
    expect(last_reply(page)).to_have_text("(integer) 2")
    type_line(page, "LRANGE letters 0 -1")
    expect(last_reply(page)).to_have_text('1) "a"\n2) "b"')
    type_line(page, "KEYS *")
    expect(last_reply(page)).to_contain_text("(error) ERR KEYS is not allowed")

    prompt = page.get_by_label("Command")
    prompt.fill("draft")
    for expected in ["KEYS *", "LRANGE letters 0 -1", "RPUSH letters a b"]:
        prompt.press("ArrowUp")
        expect(prompt).to_have_value(expected)
    prompt.press("ArrowDown")
    expect(prompt).to_have_value("LRANGE letters 0 -1")
    prompt.press("ArrowDown")
    prompt.press("ArrowDown")
    expect(prompt).to_have_value("draft")  # back to what was being typed
    for _ in range(3):
        prompt.press("ArrowUp")
    prompt.press("Enter")
    expect(last_reply(page)).to_have_text("(integer) 4")

    # After a reload the transcript, and so the history, is still there.
    page.reload()
    expect(last_reply(page)).to_have_text("(integer) 4")
    page.get_by_label("Command").press("ArrowUp")
    expect(page.get_by_label("Command")).to_have_value("RPUSH letters a b")


def test_a_subscription_shows_what_is_published_and_a_challenge_runs_to_done(page):
    page.goto("/labs/console/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    goal = page.locator("#lab-goals li", has_text="Move three jobs")
    expect(goal).not_to_have_class(re.compile("is-done"))

    type_line(page, "SUBSCRIBE updates")
    # The page's own subscription, real: PUBLISH counts it, and the message comes back.
    expect(page.locator("#console-feed-status")).to_contain_text("listens to updates")
    type_line(page, "PUBLISH updates 'hello page'")
    expect(last_reply(page)).to_have_text("(integer) 1")
    expect(page.locator("#console-transcript .console-message")).to_have_text(
        '1) "message"\n2) "updates"\n3) "hello page"'
    )

    type_line(page, "LPUSH jobs one two three")
    type_line(page, "RPOP jobs")
    expect(last_reply(page)).to_have_text('"one"')
    type_line(page, "BRPOP jobs 1")
    expect(last_reply(page)).to_have_text('1) "jobs"\n2) "two"')
    type_line(page, "RPOP jobs")
    expect(goal).to_have_class(re.compile("is-done"))
    expect(goal).to_contain_text("Done:")


def test_without_javascript_the_console_still_answers(browser, live_url):
    context = browser.new_context(base_url=live_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/labs/console/")
    page.get_by_label("Command").fill("PING hi")
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"/labs/console/#console$"))
    expect(page.locator("#console-transcript .console-reply").last).to_have_text('"hi"')
    context.close()


def test_the_console_fits_a_phone(browser, live_url):
    context = browser.new_context(base_url=live_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/labs/console/")
    page.get_by_label("Command").fill("SET " + "k" * 60 + " value")
    page.get_by_label("Command").press("Enter")
    expect(page.locator("#console-transcript .console-entry")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
