"""The email lab in a real Chromium: real sends to the real mail server, timed in the page."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

INTERACTION = re.compile(r"^(\d+ ms|under 16 ms)")


@pytest.fixture
def lab(page, mail_server):
    page.goto("/labs/email/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    return page


def send(page, button: str, latency_ms: int) -> None:
    page.get_by_label("Mail server latency").fill(str(latency_ms))
    page.get_by_role("button", name=button).click()


def test_both_ways_arrive_with_their_times_and_the_chart_compares_them(lab):
    send(lab, "Send now", 300)
    expect(lab.locator("#start-result")).to_contain_text("took the email after")
    send(lab, "Send in the background", 300)
    expect(lab.locator("#start-result")).to_contain_text("is on the queue")

    sync = lab.locator('article[data-mode="sync"]')
    background = lab.locator('article[data-mode="background"]')
    for run in (sync, background):
        expect(run.locator(".status")).to_have_text("Delivered")
        expect(run.locator(".request-time")).to_have_text(re.compile(r"^\d+ ms$"))
        expect(run.locator(".delivered")).to_have_text(re.compile(r"^\d+ ms after the request"))
        expect(run.locator("[data-interaction-for]")).to_have_text(INTERACTION)
    # The request that sent the email waited for the mail server (it holds its reply 300 ms);
    # the one that queued it answered before the worker's email was even delivered.
    assert int(sync.locator(".request-time").inner_text().split()[0]) >= 300
    background_ms = int(background.locator(".request-time").inner_text().split()[0])
    assert background_ms < int(background.locator(".delivered").inner_text().split()[0])

    chart = lab.get_by_role("img", name=re.compile("Server time of the request"))
    for mode in ("sync", "background"):
        group = chart.locator(f'g[data-mode="{mode}"]')
        expect(group.locator("rect.bar-request")).to_have_count(1)
        expect(group.locator("rect.bar-delivery")).to_have_count(1)


def test_a_ping_answers_while_send_now_waits_and_while_a_worker_sends(lab):
    send(lab, "Send now", 500)
    expect(lab.get_by_role("button", name="Send now")).to_be_disabled()
    lab.get_by_role("button", name="Ping", exact=True).click()
    latest_ping = lab.locator("[data-ping-log] li").first
    expect(latest_ping).to_contain_text(
        "while send now was waiting; send now was still waiting when the pong came back"
    )
    expect(lab.locator("#start-result")).to_contain_text("took the email after")

    send(lab, "Send in the background", 500)
    expect(lab.locator("#start-result")).to_contain_text("is on the queue")
    lab.get_by_role("button", name="Ping", exact=True).click()
    expect(latest_ping).to_contain_text("while a background send was on its way")
    expect(lab.locator('[data-ping-during="sync"] td').first).to_have_text("1")
    expect(lab.locator('[data-ping-during="background"] td').first).to_have_text("1")


def test_a_refused_latency_is_explained_in_the_page(lab):
    send(lab, "Send in the background", 100)
    expect(lab.locator("#start-result")).to_contain_text("is on the queue")
    # Typed past the browser's own check (htmx does not run it): the server answers.
    send(lab, "Send now", 900)
    expect(lab.locator("#start-result .error")).to_contain_text("from 100 to 500")


def test_without_javascript_both_buttons_still_send(browser, live_url, mail_server):
    context = browser.new_context(base_url=live_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/labs/email/")
    send(page, "Send now", 100)
    expect(page).to_have_url(re.compile(r"/labs/email/$"))
    run = page.locator('article[data-mode="sync"]')
    expect(run.locator(".status")).to_have_text("Delivered")
    expect(run.locator(".request-time")).to_have_text(re.compile(r"^\d+ ms$"))
    send(page, "Send in the background", 100)
    expect(page).to_have_url(re.compile(r"/labs/email/$"))
    expect(page.locator('article[data-mode="background"]')).to_have_count(1)
    context.close()


def test_the_lab_and_its_chart_fit_a_phone(browser, live_url, mail_server):
    context = browser.new_context(base_url=live_url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/labs/email/")
    expect(page.locator("#broker-status")).to_contain_text("connected")
    send(page, "Send now", 100)
    # The run's own request bar (the legend has one too), drawn once the request answered.
    expect(page.locator(".email-chart .chart-group rect.bar-request")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
