"""A learner signs up in a real Chromium on a phone-sized screen, sees their name, logs out."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_up_see_the_username_in_the_nav_and_log_out(page):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/labs/ping/")
    nav = page.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password:", exact=True).fill("a-long-unusual-passphrase-42")
    page.get_by_label("Password confirmation").fill("a-long-unusual-passphrase-42")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/labs/ping/$"))  # back where they were
    expect(nav.locator(".nav-user")).to_have_text("Logged in as grace")
    expect(nav.get_by_role("link", name="Log in")).to_have_count(0)
    logout = nav.get_by_role("button", name="Log out")
    box = logout.bounding_box()
    assert box["x"] + box["width"] <= 375 and box["height"] >= 44  # on screen, big enough to tap

    logout.click()
    expect(nav.get_by_role("link", name="Log in")).to_be_visible()
    expect(nav.locator(".nav-user")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/$"))
