"""The pages work under their Content-Security-Policy in a real Chromium: no inline script or
style and no eval is ever attempted, so the browser reports no violation, even when a stream
fails and the page says so."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Set before any script of the page runs: every violation the browser reports.
WATCH = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


def watched(page: Page) -> list[str]:
    """The page's console messages about the policy, filled in as they come."""
    messages = []
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and messages.append(message.text),
    )
    return messages


def assert_no_violation(page: Page, messages: list[str]) -> None:
    assert page.evaluate("window.cspViolations") == []
    assert messages == []


def test_a_ping_run_streams_to_done_with_no_violation(page):
    messages = watched(page)
    response = page.goto("/labs/ping/")
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    expect(page.locator("#broker-status")).to_contain_text("connected")

    page.get_by_role("button", name="Ping the worker").click()

    run = page.locator("article.run").first
    expect(run.locator(".status")).to_have_text("Done")
    assert_no_violation(page, messages)


def test_a_lab_stream_that_fails_says_so_with_no_violation(page):
    messages = watched(page)
    page.route(re.compile(r"/streams/labs/ping/events/"), lambda route: route.abort())
    page.goto("/labs/ping/")
    expect(page.locator("#broker-status")).to_have_text("Live updates lost: reconnecting…")
    assert_no_violation(page, messages)


def test_the_consoles_feed_that_fails_says_so_in_its_own_line_only(page):
    messages = watched(page)
    page.route(re.compile(r"/streams/labs/console/feed/"), lambda route: route.abort())
    page.goto("/labs/console/")
    expect(page.locator("#console-feed-status")).to_have_text(
        "This page's subscription was lost: reconnecting…"
    )
    # The lab's own stream is fine, and the feed's error stops before the lab's line.
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_label("Command").fill("PING")
    page.get_by_label("Command").press("Enter")
    expect(page.locator("#console-transcript .console-reply").last).to_have_text("PONG")
    assert_no_violation(page, messages)


def test_a_tabs_pubsub_feed_that_fails_says_so_in_its_own_line_only(page):
    messages = watched(page)
    page.route(re.compile(r"/streams/labs/pubsub/feed/"), lambda route: route.abort())
    page.goto("/labs/pubsub/")
    expect(page.locator("#feed-status")).to_have_text("This tab's feed was lost: reconnecting…")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    assert_no_violation(page, messages)
