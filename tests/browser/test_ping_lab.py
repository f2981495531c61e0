"""A learner in a real Chromium presses the button; a real worker does the work."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


SAID = """() => {
  window.said = [];
  const line = document.getElementById("lab-announce");
  new MutationObserver(() => window.said.push(line.textContent)).observe(line, {childList: true});
}"""


def test_pressing_ping_streams_progress_and_the_result_into_the_page(page):
    page.goto("/labs/ping/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.evaluate(SAID)  # what the status line for screen readers says, in order

    page.get_by_role("button", name="Ping the worker").click()

    expect(page.locator("#start-result")).to_contain_text("is on the queue")
    run = page.locator("article.run").first
    # The progress bar moves while the worker reports its steps...
    expect(run.locator("progress")).to_have_attribute("value", re.compile(r"^[1-9]\d*$"))
    expect(run.locator(".status")).to_have_text("Running")
    # ...and the result arrives in the same page, with no reload.
    expect(run.locator(".status")).to_have_text("Done")
    expect(run.locator("progress")).to_have_attribute("value", "100")
    worker = re.compile(r"Worker test-labs-\d+-\d+@localhost")
    expect(run.locator(".result")).to_contain_text(worker)
    expect(run.locator(".timeline li")).to_have_count(8)
    # Each change of status said once, not every re-render; and the goal the run met.
    run_id = run.get_attribute("aria-labelledby").split("-")[1]
    # The frame of the run's last event also marks the goal it met: said in the same line.
    done = f"Run {run_id} Done. Goal met: Queue a task and watch a worker finish it."
    expect(page.locator("#lab-announce")).to_have_text(done)
    said = page.evaluate("window.said")
    assert said[-1] == done
    assert len(said) == len(set(said)) and f"Run {run_id} Running." in said, said


def test_the_lab_works_from_the_keyboard(page):
    page.goto("/labs/ping/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_role("button", name="Ping the worker").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#start-result")).to_contain_text("is on the queue")
    # Disabled while its request ran, the button has the focus back: Enter pings again.
    expect(page.get_by_role("button", name="Ping the worker")).to_be_focused()
    expect(page.locator("article.run .status").first).to_have_text("Done")


def test_without_javascript_the_button_still_starts_a_run(browser, live_url):
    context = browser.new_context(base_url=live_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/labs/ping/")
    page.get_by_role("button", name="Ping the worker").click()
    # A plain form post, then a redirect back to the page, which shows the queued run.
    expect(page).to_have_url(re.compile(r"/labs/ping/$"))
    expect(page.locator("article.run")).to_have_count(1)
    context.close()


def test_the_course_pages_work_on_a_phone(browser, live_url):
    context = browser.new_context(base_url=live_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/labs/ping/")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_dropping_the_stream_mid_run_reconnects_and_the_run_loses_nothing(page):
    page.goto("/labs/ping/")
    raw = page.get_by_role("list", name="Events received, newest first")
    expect(raw).to_contain_text("Stream opened")
    expect(page.locator("#broker-status")).to_contain_text("connected")

    page.get_by_role("button", name="Ping the worker").click()
    run = page.locator("article.run").first
    expect(run.locator(".status")).to_have_text("Running")
    page.get_by_role("button", name="Drop my stream").click()

    # The server ended the stream; the browser's EventSource came back by itself, with the id
    # of the last event it had, and the run goes on to its end with every step shown once.
    expect(raw.locator(".raw-connection").first).to_contain_text(
        re.compile(r"Reconnected by the browser, which sent Last-Event-ID: \d+-\d+")
    )
    expect(run.locator(".status")).to_have_text("Done")
    for step in range(1, 6):
        expect(run.locator(".timeline li", has_text=f"step {step} of 5")).to_have_count(1)
    frame = raw.locator("li").filter(has_text=re.compile(r"^\d+-\d+ runs, \d+ bytes$"))
    expect(frame.first).to_be_visible()


def test_six_lab_tabs_leave_the_browser_a_connection_for_their_buttons(page):
    # A browser opens six connections to a site over HTTP/1.1: were six streams let open, every
    # tab's button would wait for a seventh. The sixth tab's stream is refused instead.
    tabs = [page] + [page.context.new_page() for _ in range(5)]
    for tab in tabs[:5]:
        tab.goto("/labs/ping/")
        expect(tab.locator("#broker-status")).to_contain_text("connected")
    stream = re.compile(r"/streams/labs/ping/events/")
    with tabs[5].expect_response(stream) as refused:
        tabs[5].goto("/labs/ping/")
    assert refused.value.status == 429

    tabs[0].get_by_role("button", name="Ping the worker").click()
    expect(tabs[0].locator("#start-result")).to_contain_text("is on the queue")
