"""A learner in a real Chromium, on a phone-sized screen, reads their task inside Redis: in the
queue while no worker runs, then, once one starts, its result key."""

import re

import pytest
from playwright.sync_api import expect

from tests.stack import redis_service, web_service, worker_service

pytestmark = pytest.mark.browser


def test_the_learner_sees_their_message_in_the_queue_then_its_result_key(browser, start_services):
    # A stack with no worker at first, so that the message stays in the list to be read.
    redis, redis_url = redis_service()
    start_services(redis)
    web, base_url = web_service(redis_url)
    start_services(web)
    context = browser.new_context(base_url=base_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto("/labs/broker/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_role("button", name="Send a specimen").click()
    expect(page.locator("#start-result")).to_contain_text("is on the queue")

    # The page reads Redis at once: the message as stored in the list, and its decoded parts.
    inspector = page.locator("#inspector")
    expect(inspector.locator("[data-phase]")).to_have_attribute("data-phase", "list")
    stored = inspector.locator('pre.raw[data-key="celery"]')
    expect(stored).to_contain_text('"task": "labs.broker_specimen"')
    expect(stored).to_contain_text('"body_encoding": "base64"')
    expect(inspector.locator("pre[data-decoded-body]")).to_contain_text('"run_id"')
    expect(inspector.locator("pre[data-llen]")).to_have_text("(integer) 1")
    # Raw JSON wraps: nothing is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # A worker starts: the page, polling, follows the task to its result key.
    start_services(worker_service(redis_url))
    result = inspector.locator(".broker-result")
    expect(result).to_have_attribute("data-status", "SUCCESS", timeout=40_000)
    expect(result.locator('pre.raw[data-key="result"]')).to_contain_text('"status": "SUCCESS"')
    expect(result.locator("pre[data-ttl]")).to_have_text(re.compile(r"^\(integer\) \d+$"))
    expect(inspector.locator("pre[data-llen]")).to_have_text("(integer) 0")
    expect(page.locator("article.run .status").first).to_have_text("Done")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
