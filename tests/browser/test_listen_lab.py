"""The blocking listen() lab in a real Chromium on a phone: a run's chart and table fit."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_finished_run_fits_a_phone_and_its_chart_stays_readable(browser, live_url):
    context = browser.new_context(base_url=live_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/labs/listen/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_role("button", name=re.compile("^Run the sandbox")).click()
    run = page.locator("article.run").first
    # Waited for to the end, so that no run of this test holds a worker after it.
    expect(run).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(run.locator("table.listen-summary tbody tr")).to_have_count(3)
    expect(run.locator(".listen-chart svg")).to_be_visible()
    # The page does not scroll sideways; the chart scrolls in its figure at a readable size.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    chart = run.locator(".listen-chart svg").bounding_box()
    assert chart["width"] >= 500
    context.close()
