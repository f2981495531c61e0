"""An instructor places a quiz from their course in a real Chromium: the platform's login
and signed launch, the tool's choice page, and the signed answer the page sends back to the
platform by itself under the site's Content-Security-Policy."""

import json
import re
from urllib.request import urlopen

import pytest
from playwright.sync_api import expect

from tests.lti.conftest import quiz_lesson, registered_platform, tool_key  # noqa: F401
from tests.lti.platform import CLIENT_ID, ISSUER

pytestmark = pytest.mark.browser


def test_an_instructor_places_a_quiz_through_deep_linking(
    page,
    live_url,
    registered_platform,  # noqa: F811
    quiz_lesson,  # noqa: F811
):
    platform = registered_platform
    with urlopen(f"{live_url}/lti/jwks.json") as response:  # the test client cannot run here
        platform.tool_jwks = json.load(response)
    platform.tool_url = live_url
    platform.auth_message = "LtiDeepLinkingRequest"
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip
    login = (
        f"{live_url}/lti/login/?iss={ISSUER}&client_id={CLIENT_ID}&login_hint=teacher-1"
        f"&target_link_uri={live_url}/lti/launch/"
    )
    page.goto(login)  # as the platform sends the browser

    expect(page.get_by_role("heading", level=1)).to_have_text("Place a lesson in your course")
    page.get_by_label("Which lesson").select_option("lti-lesson")
    page.get_by_label("Quiz").check()
    page.get_by_role("button", name="Place it").click()

    expect(page).to_have_url(re.compile(re.escape(f"{platform.url}/deep-link-return")))
    [answer] = platform.deep_link_answers
    [item] = platform.deep_link_response(answer)[
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    ]
    assert item["custom"] == {"lesson": "lti-lesson", "mode": "quiz"}
    assert item["url"] == f"{live_url}/lti/launch/"
    assert violations == []
