"""The LTI 1.3 tool end to end, against the test platform (tests/lti/platform.py): login and
launch, deep linking, refusals that change nothing, the JWKS and key rotation, the roster."""

import time

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command
from lti_tool.models import Key, LtiContext, LtiDeployment, LtiMembership, LtiUser

from learners.identity import SESSION_KEY
from learners.models import Learner
from quiz.models import Attempt

from .platform import LEARNER, LTI, rsa_key

User = get_user_model()


def rows() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (User, Learner, LtiUser, LtiDeployment, LtiContext, Session, Attempt)
    }


def test_a_lesson_launch_signs_the_platform_user_in_and_opens_the_lesson(
    client, platform, quiz_lesson
):
    response, _ = platform.launch(client, custom={"lesson": "lti-lesson", "mode": "lesson"})
    assert response.status_code == 302
    assert response["Location"] == "/lessons/lti-lesson/"
    lti_user = LtiUser.objects.get(sub="student-1")
    assert lti_user.auth_user.email == "ada@platform.test"
    learner = Learner.objects.get(user=lti_user.auth_user)
    assert client.session[SESSION_KEY] == learner.key
    assert client.get("/lessons/lti-lesson/").status_code == 200


def test_a_quiz_launch_starts_the_quiz_of_the_placed_lesson(client, platform, quiz_lesson):
    response, _ = platform.launch(client, custom={"lesson": "lti-lesson", "mode": "quiz"})
    attempt = Attempt.objects.get()
    assert response["Location"] == f"/attempts/{attempt.pk}/"
    assert (attempt.lesson, attempt.mode) == (quiz_lesson, "quiz")
    assert attempt.lti.lineitem_url == platform.lineitem_url()


def test_a_launch_of_a_lesson_the_site_lacks_is_refused_and_changes_nothing(client, platform):
    before = rows()
    response, _ = platform.launch(client, custom={"lesson": "gone", "mode": "quiz"})
    assert response.status_code == 404
    assert "which this site does not have" in response.content.decode()
    assert rows() == before


def test_deep_linking_places_a_quiz_that_the_platform_verifies_with_the_tool_jwks(
    client, platform, quiz_lesson
):
    response, _ = platform.launch(client, message="LtiDeepLinkingRequest")
    assert response["Location"] == "/lti/deep-link/"
    page = client.get("/lti/deep-link/")
    assert 'value="lti-lesson"' in page.content.decode()

    answer = client.post("/lti/deep-link/", {"lesson": "lti-lesson", "mode": "quiz"})
    assert answer.status_code == 200
    html = answer.content.decode()
    assert f'action="{platform.url}/deep-link-return"' in html
    # The page's form may post to the platform, and only there besides the site.
    policy = answer["Content-Security-Policy"]
    assert policy.endswith(f"form-action 'self' {platform.url}")
    token = html.split('name="JWT" value="')[1].split('"')[0]
    message = platform.deep_link_response(token)
    assert message[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert message["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-data"
    [item] = message["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["url"] == "http://testserver/lti/launch/"  # the registered redirect URI
    assert item["custom"] == {"lesson": "lti-lesson", "mode": "quiz"}
    assert item["lineItem"]["scoreMaximum"] == 100

    # The placed link, launched by a learner, opens that quiz.
    launched, _ = platform.launch(client, custom=item["custom"])
    assert launched["Location"] == f"/attempts/{Attempt.objects.get(mode='quiz').pk}/"
    # One answer per deep-linking request.
    again = client.post("/lti/deep-link/", {"lesson": "lti-lesson", "mode": "quiz"})
    assert again.status_code == 400


def test_a_deep_link_choice_of_no_such_lesson_is_a_form_error(client, platform, quiz_lesson):
    platform.launch(client, message="LtiDeepLinkingRequest")
    response = client.post("/lti/deep-link/", {"lesson": "nope", "mode": "quiz"})
    assert response.status_code == 400
    assert "which this site does not have" in response.content.decode()


def test_a_learner_cannot_place_content(client, platform):
    before = rows()
    response, _ = platform.launch(
        client, message="LtiDeepLinkingRequest", **{LTI + "roles": [LEARNER]}
    )
    assert response.status_code == 403
    assert "Only an instructor" in response.content.decode()
    assert rows() == before


def _signed_with_another_key(platform):
    key, _ = rsa_key("forger")
    return lambda claims: platform.sign(claims, key=key)  # the platform's kid, not its key


def _expired(platform):
    now = int(time.time())
    return {"iat": now - 600, "exp": now - 60}


REFUSED = {
    "bad signature": (lambda p: {"sign": _signed_with_another_key(p)}, "bad signature"),
    "wrong audience": (lambda p: {"aud": "another-tool"}, "audience (aud)"),
    "expired token": (_expired, "has expired"),
    "unknown deployment": (
        lambda p: {LTI + "deployment_id": "deployment-2"},
        "deployment is not registered here",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_forged_or_stale_launch_is_refused_and_changes_nothing(client, platform, case):
    make, says = REFUSED[case]
    before = rows()
    response, _ = platform.launch(client, **make(platform))
    assert response.status_code == 403
    assert says in response.content.decode()
    assert rows() == before  # no account, learner, deployment, session or attempt
    assert SESSION_KEY not in client.session


def test_a_replayed_launch_is_refused_and_changes_nothing(client, platform):
    first, posted = platform.launch(client)
    assert first.status_code == 302
    before = rows()
    # The same id_token and state again, from the same browser and from another one.
    for replay_client in (client, type(client)()):
        if replay_client is not client:
            replay_client.cookies = client.cookies
        replayed = replay_client.post("/lti/launch/", posted)
        assert replayed.status_code == 403
        assert "already used" in replayed.content.decode()
    assert rows() == before


def test_over_https_a_launch_needs_the_cookie_its_login_set(client, platform):
    launched, _ = platform.launch(client, secure=True)
    assert launched.status_code == 302
    cookie = client.cookies["lti1p3-session-id"]
    assert cookie["secure"] and cookie["samesite"] == "None"  # sent back from the platform

    before = rows()
    auth = platform.login(client, secure=True)
    del client.cookies["lti1p3-session-id"]
    token = platform.sign(platform.claims(nonce=auth["nonce"]))
    refused = client.post("/lti/launch/", {"id_token": token, "state": auth["state"]}, secure=True)
    assert refused.status_code == 403
    assert "did not send back the cookie" in refused.content.decode()
    assert rows() == before


def test_a_token_that_is_not_a_launch_message_is_refused(client, platform):
    auth = platform.login(client)
    body = jwt.utils.base64url_encode(b'["not", "claims"]').decode()
    token = f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"
    response = client.post("/lti/launch/", {"id_token": token, "state": auth["state"]})
    assert response.status_code == 403
    assert "not a valid LTI message" in response.content.decode()


def test_a_launch_without_a_token_is_a_bad_request(client, platform):
    response = client.post("/lti/launch/", {"state": "x"})
    assert response.status_code == 400
    assert "no id_token" in response.content.decode()


def test_a_login_from_an_unregistered_platform_or_to_another_site_is_refused(client, platform):
    params = {"iss": "https://unknown.test", "login_hint": "x", "client_id": "c",
              "target_link_uri": "http://testserver/lti/launch/"}  # fmt: skip
    response = client.get("/lti/login/", params)
    assert response.status_code == 400
    assert "active registration in the admin" in response.content.decode()
    elsewhere = client.get("/lti/login/", params | {"target_link_uri": "https://evil.test/"})
    assert elsewhere.status_code == 400
    assert "must target the tool&#x27;s launch URL" in elsewhere.content.decode()


def test_key_rotation_keeps_the_replaced_key_in_the_jwks_until_the_next(client, platform):
    def kids() -> set[str]:
        return {key["kid"] for key in client.get("/lti/jwks.json").json()["keys"]}

    signing = str(Key.objects.active().latest())
    call_command("lti_keys_rotate")
    assert len(kids()) == 2 and signing in kids()  # the replaced key and the new one
    newer = str(Key.objects.active().latest())
    call_command("lti_keys_rotate")
    assert signing not in kids() and newer in kids() and len(kids()) == 2
    assert str(Key.objects.active().latest()) in kids()


def test_deep_linking_answers_are_signed_with_the_newest_key(client, platform, quiz_lesson):
    call_command("lti_keys_rotate")
    platform.tool_jwks = client.get("/lti/jwks.json").json()
    platform.launch(client, message="LtiDeepLinkingRequest")
    html = client.post("/lti/deep-link/", {"lesson": "lti-lesson", "mode": "lesson"}).content
    token = html.decode().split('name="JWT" value="')[1].split('"')[0]
    assert jwt.get_unverified_header(token)["kid"] == str(Key.objects.active().latest())
    [item] = platform.deep_link_response(token)[
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    ]
    assert "lineItem" not in item  # a lesson page has no score


def test_the_roster_comes_from_names_and_role_provisioning(client, platform, capsys):
    platform.launch(client)
    platform.members = [
        {"user_id": "student-1", "name": "Ada Learner", "roles": [LEARNER], "status": "Active"},
        {"user_id": "teacher-1", "name": "Grace Teacher", "status": "Active",
         "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]},
        {"user_id": "student-2", "name": "Gone Learner", "roles": [LEARNER],
         "status": "Inactive"},
    ]  # fmt: skip
    context = LtiContext.objects.get(id_on_platform="course-1")
    call_command("lti_roster", str(context.pk))
    out = capsys.readouterr().out
    assert "teacher-1\tGrace Teacher\tinstructor\tactive" in out
    assert "student-2\tGone Learner\tlearner\tinactive" in out
    assert "3 member(s) in 'Brokers 101'" in out
    assert LtiMembership.objects.filter(context=context, is_instructor=True).count() == 1


# PostgreSQL refuses a NUL in a query: each of these was a 500 there, the first three before
# the token's signature was even checked.
NUL_CLAIMS = {
    "issuer": {"iss": "https://platform.test\x00"},
    "audience": {"aud": "client\x00"},
    "deployment": {LTI + "deployment_id": "deployment\x00"},
    "user": {"sub": "student\x00"},
    "placed lesson": {LTI + "custom": {"lesson": "lti-lesson\x00"}},
}


@pytest.mark.parametrize("case", NUL_CLAIMS)
def test_a_launch_with_a_nul_character_is_a_bad_request_and_changes_nothing(
    client, platform, quiz_lesson, case
):
    before = rows()
    response, _ = platform.launch(client, **NUL_CLAIMS[case])
    assert response.status_code == 400
    assert "This launch holds a NUL character" in response.content.decode()
    assert rows() == before
