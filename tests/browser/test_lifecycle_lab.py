"""A learner in a real Chromium follows a task's whole life; a real worker runs it."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_retrying_task_shows_retry_then_success_and_a_full_progress_bar(page):
    page.goto("/labs/lifecycle/")
    expect(page.locator("#broker-status")).to_contain_text("connected")

    page.get_by_label("Fail once, then succeed on retry").check()
    page.get_by_role("button", name="Start the task").click()

    expect(page.locator("#start-result")).to_contain_text("is on the queue")
    run = page.locator("article.run").first
    states = run.locator(".timeline .state")
    # Streamed in as it happens: the failed attempt's retry, then the second attempt's success.
    expect(states.filter(has_text="RETRY")).to_have_count(1)
    expect(run.locator(".status")).to_have_text("SUCCESS")
    expect(run.locator("progress")).to_have_attribute("value", "100")
    shown = states.all_inner_texts()
    assert shown.index("RETRY") < shown.index("SUCCESS")
    assert shown.count("STARTED") == 2
    # A finished run offers no cancel button.
    expect(run.get_by_role("button", name=re.compile("^Cancel run"))).to_have_count(0)


def test_a_chain_turns_its_three_nodes_to_success_one_after_another(page):
    page.goto("/labs/lifecycle/")
    expect(page.locator("#broker-status")).to_contain_text("connected")

    page.get_by_role("button", name="Start a chain of 3").click()

    run = page.locator("article.run").first
    nodes = run.locator(".canvas-chain .node")
    expect(nodes).to_have_count(3)
    # While the first task is under way the last one has not even been sent.
    expect(nodes.nth(0)).not_to_have_class(re.compile(r"\bnode-pending\b"))
    expect(nodes.nth(2)).to_have_class(re.compile(r"\bnode-pending\b"))
    for index in range(3):
        expect(nodes.nth(index)).to_have_class(re.compile(r"\bnode-success\b"))
        expect(nodes.nth(index).locator(".node-state")).to_have_text("SUCCESS")
    expect(run.locator(".status")).to_have_text("SUCCESS")


def test_the_cancel_form_survives_the_runs_being_re_rendered(page):
    """A click is lost if the button is replaced between mouse down and mouse up: the runs are
    re-rendered at every progress step, and the cancel form must stay the same element."""
    page.goto("/labs/lifecycle/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_label("Overrun its time limit").check()
    page.get_by_role("button", name="Start the task").click()
    run = page.locator("article.run").first
    progress = run.locator(".timeline .entry-progress")
    expect(progress).not_to_have_count(0)
    seen = page.locator("form.cancel-form").evaluate(
        "form => { form.dataset.seen = 'before'; return document.querySelectorAll("
        "'.timeline .entry-progress').length }"
    )
    # Two re-renders later. (Not page.wait_for_function: Playwright evals its text in the page,
    # and the Content-Security-Policy allows no eval.)
    expect(page.locator(".timeline .entry-progress").nth(seen + 1)).to_be_attached()
    expect(page.locator("form.cancel-form")).to_have_attribute("data-seen", "before")
    run.get_by_role("button", name=re.compile("^Cancel run")).click()
    expect(run.locator(".status")).to_have_text("REVOKED")
    expect(page.locator("form.cancel-form")).to_have_count(0)


def test_the_cancel_button_streamed_into_the_page_revokes_the_running_task(page):
    page.goto("/labs/lifecycle/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_label("Overrun its time limit").check()
    page.get_by_role("button", name="Start the task").click()

    run = page.locator("article.run").first
    expect(run.locator(".status")).to_have_text("PROGRESS")
    run.get_by_role("button", name=re.compile("^Cancel run")).click()

    expect(page.locator("#start-result")).to_contain_text("terminating its process")
    expect(run.locator(".status")).to_have_text("REVOKED")
    expect(run.locator(".timeline .entry-revoked")).to_contain_text("SIGTERM")


def test_start_and_cancel_from_the_keyboard(page):
    page.goto("/labs/lifecycle/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    page.get_by_label("Overrun its time limit").check()
    start = page.get_by_role("button", name="Start the task")
    start.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#start-result")).to_contain_text("is on the queue")
    expect(start).to_be_focused()  # given back after its request, not left on the page

    run = page.locator("article.run").first
    expect(run.locator(".status")).to_have_text("PROGRESS")
    run.get_by_role("button", name=re.compile("^Cancel run")).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#start-result")).to_contain_text("terminating its process")
    expect(run.locator(".status")).to_have_text("REVOKED")
