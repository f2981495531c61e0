import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

# Flags for a headless Chromium as root on a machine with no network but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail("No Chromium: `make test` installs Debian's chromium, or set CHROMIUM.")
    return path


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py reads the groups
def pytest_collection_modifyitems(items):
    # The browser starts once per module and pytest-xdist worker (two or three seconds): the
    # tests of a module go to one worker together, a group, not one by one to each.
    here = Path(__file__).parent
    for item in items:
        if item.path.parent == here:
            item.add_marker(pytest.mark.xdist_group(f"browser-{item.path.stem}"))


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an asyncio loop in this thread, and Django refuses ORM calls
    # (such as the test database flush) where a loop exists. Playwright only runs while a call
    # into it is made, so the two never overlap: allow it, for this module only.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_url):
    context = browser.new_context(base_url=live_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
