"""Accounts: sign up, log in, log out, and an anonymous learner's progress moving to the account."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_login_failed
from django.test import Client, RequestFactory
from django.utils import timezone

from authoring.content import content_load
from learners.identity import SESSION_KEY, learner_for
from learners.models import Learner
from learnsite import accounts
from learnsite.accounts import (
    ADDRESS_BUSY,
    LOGIN_FAILURE_WINDOW_SECONDS,
    LOGIN_FAILURES_ALLOWED,
    PASSWORD_CHECK_WINDOW_SECONDS,
)
from learnsite.redis import redis_client
from lessons.models import Lesson
from lessons.progress import SESSION_KEY as READ_KEY
from quiz.models import Attempt, Question, ReviewItem
from quiz.services import attempt_answer, attempt_start
from tests.authoring.factory import make_lesson, make_questions, question_text

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"
RIGHT, WRONG = "a", "b"  # the factory's questions list the right answer first


@pytest.fixture
def lesson(tmp_path) -> Lesson:
    path = make_lesson(tmp_path / "course", slug="accounts-lesson", order=1)
    make_questions(path, *(question_text(qid=f"acc-q{n}") for n in (1, 2, 3)))
    content_load(root=tmp_path)
    return Lesson.objects.get(slug="accounts-lesson")


def session_learner(client) -> Learner:
    """The anonymous learner of the client's session, made as a request of that session would."""
    request = RequestFactory().get("/")
    request.session, request.user = client.session, AnonymousUser()
    learner = learner_for(request)
    request.session.save()
    # After a logout the client keeps an emptied cookie, where a browser would drop it.
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return learner


def practise(learner: Learner, lesson: Lesson, answers: dict[int, str]) -> Attempt:
    """A practice attempt with these answers (never all three, so it stays open)."""
    attempt = attempt_start(learner=learner, mode=Attempt.Mode.PRACTICE, lesson=lesson)
    for position, choice in answers.items():
        attempt_answer(attempt=attempt, position=position, chosen=[choice])
    return attempt


def signup(client, username: str = "ada", **extra):
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD, **extra}
    return client.post("/accounts/signup/", data)


def login(client, username: str = "ada", password: str = PASSWORD, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def reviews_of(learner: Learner) -> list[str]:
    return sorted(
        ReviewItem.objects.filter(learner=learner).values_list("question__key", flat=True)
    )


def test_the_forms_have_labels_and_autocomplete(client):
    signup_page = client.get("/accounts/signup/").content.decode()
    assert '<label for="id_username">' in signup_page
    assert 'autocomplete="username"' in signup_page
    assert signup_page.count('autocomplete="new-password"') == 2
    assert 'aria-describedby="id_password1_helptext"' in signup_page
    login_page = client.get("/accounts/login/").content.decode()
    assert '<label for="id_password">' in login_page
    assert 'autocomplete="current-password"' in login_page


def test_signing_up_creates_the_user_and_logs_them_in(client):
    response = signup(client)

    assert response.status_code == 302 and response.url == "/"
    user = get_user_model().objects.get(username="ada")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert Learner.objects.get(user=user).key == client.session[SESSION_KEY]
    home = client.get("/").content.decode()
    assert "ada" in home and 'action="/accounts/logout/"' in home and "Sign up" not in home


def test_a_weak_password_is_a_field_error_linked_to_its_input(client):
    response = client.post(
        "/accounts/signup/", {"username": "bob", "password1": "password", "password2": "password"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "This password is too common." in page
    assert 'id="id_password2_error"' in page
    assert (
        'aria-invalid="true"' in page and "id_password2_error" in page.split('name="password2"')[1]
    )
    assert not get_user_model().objects.filter(username="bob").exists()


def test_an_anonymous_learners_progress_moves_to_the_new_account(client, lesson):
    anonymous = session_learner(client)
    practise(anonymous, lesson, {1: WRONG, 2: RIGHT})
    practise(anonymous, lesson, {3: WRONG})

    signup(client)

    account = Learner.objects.get(user__username="ada")
    assert Attempt.objects.filter(learner=account).count() == 2
    assert reviews_of(account) == ["acc-q1", "acc-q3"]
    assert not Attempt.objects.exclude(learner=account).exists()
    assert not ReviewItem.objects.exclude(learner=account).exists()
    assert list(Learner.objects.all()) == [account]
    assert client.session[SESSION_KEY] == account.key


def test_logging_in_merges_a_new_sessions_progress_into_the_account(client, lesson):
    signup(client)
    account = Learner.objects.get(user__username="ada")
    practise(account, lesson, {1: WRONG, 2: WRONG})
    practise(account, lesson, {1: RIGHT})  # question 1 now waits a day
    client.post("/accounts/logout/")

    anonymous = session_learner(client)
    assert anonymous != account
    practise(anonymous, lesson, {1: WRONG, 3: WRONG})
    response = login(client)

    assert response.status_code == 302
    assert Attempt.objects.filter(learner=account).count() == 3
    assert reviews_of(account) == ["acc-q1", "acc-q2", "acc-q3"]  # one each, no duplicates
    assert list(Learner.objects.all()) == [account]
    assert not ReviewItem.objects.exclude(learner=account).exists()
    # The miss in the anonymous session counts: question 1 is due now, not in a day.
    missed = ReviewItem.objects.get(learner=account, question=Question.objects.get(key="acc-q1"))
    assert missed.due_at <= timezone.now() and missed.interval_days == 0
    assert client.session[SESSION_KEY] == account.key


def test_of_two_reviews_of_one_question_the_sooner_is_kept(client, lesson):
    signup(client)
    account = Learner.objects.get(user__username="ada")
    practise(account, lesson, {1: WRONG})
    client.post("/accounts/logout/")
    anonymous = session_learner(client)
    practise(anonymous, lesson, {1: WRONG})
    ReviewItem.objects.filter(learner=anonymous).update(due_at=timezone.now() + timedelta(days=4))

    login(client)

    missed = ReviewItem.objects.get(learner=account)
    assert missed.due_at <= timezone.now()


def test_lessons_read_survive_logging_in(client, lesson):
    signup(client)
    client.post("/accounts/logout/")
    assert client.post("/lessons/accounts-lesson/read/").status_code == 302
    assert client.session[READ_KEY] == ["accounts-lesson"]

    login(client)

    assert client.session[READ_KEY] == ["accounts-lesson"]
    assert "1 of 1 lesson read" in client.get("/").content.decode()


def test_logout_is_post_only_and_forgets_the_learner(client):
    signup(client)
    account_key = client.session[SESSION_KEY]

    assert client.get("/accounts/logout/").status_code == 405
    assert client.session.get("_auth_user_id")

    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response.url == "/"
    assert "_auth_user_id" not in client.session
    assert SESSION_KEY not in client.session
    assert session_learner(client).key != account_key
    home = client.get("/").content.decode()
    assert 'href="/accounts/login/?next=/"' in home and 'href="/accounts/signup/?next=/"' in home


def test_a_wrong_password_is_a_form_error(client):
    signup(client)
    client.post("/accounts/logout/")

    response = login(client, password="not-the-password")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Please enter a correct username and password" in page
    assert 'id="form-errors"' in page and 'aria-describedby="form-errors"' in page
    assert "<title>Error: Log in" in page
    assert "_auth_user_id" not in client.session


def test_an_unknown_user_is_a_form_error(client):
    response = login(client, username="nobody")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_failed_logins_lock_the_account_for_a_while(client, redis_url):
    signup(client, username="grace")
    client.post("/accounts/logout/")
    # The session's Redis is shared with the other tests of this worker: count only new keys.
    earlier = set(redis_client().keys("learnsite:login-failures:*"))
    for _ in range(LOGIN_FAILURES_ALLOWED):
        assert "Please enter a correct" in login(client, "grace", "wrong").content.decode()

    # Past the limit no password is tried, not even the right one, and the page says why.
    tried = []
    user_login_failed.connect(tried.append, dispatch_uid="test-tried")
    try:
        assert "Too many failed" in login(client, "grace", "wrong").content.decode()
    finally:
        user_login_failed.disconnect(dispatch_uid="test-tried")
    assert tried == []
    page = login(client, "Grace ").content.decode()
    assert "Too many failed attempts to log in to this account. Wait 15 minutes" in page
    assert 'value="Grace' in page
    assert "_auth_user_id" not in client.session
    key = sorted(set(redis_client().keys("learnsite:login-failures:*")) - earlier)
    assert len(key) == 1 and 0 < redis_client().ttl(key[0]) <= LOGIN_FAILURE_WINDOW_SECONDS

    # Another account is not locked by them.
    signup(client, username="hopper")
    client.post("/accounts/logout/")
    login(client, "hopper")
    assert "_auth_user_id" in client.session
    redis_client().delete(*key)


def test_password_checks_from_one_address_are_limited(redis_url, monkeypatch):
    # Each login or sign-up hashes a password (a third of a second of a core): one client
    # sending them without end would keep the web processes busy.
    monkeypatch.setattr(accounts, "PASSWORD_CHECKS_PER_ADDRESS", 3)
    school, home = Client(REMOTE_ADDR="192.0.2.7"), Client(REMOTE_ADDR="198.51.100.9")
    redis_client().delete("learnsite:password-checks:192.0.2.7")
    signup(school, username="lovelace")
    school.post("/accounts/logout/")
    assert "Please enter a correct" in login(school, "lovelace", "wrong").content.decode()
    login(school, "lovelace")
    assert "_auth_user_id" in school.session
    school.post("/accounts/logout/")

    # Past the limit no password is tried, not even the right one, and no account is made.
    tried = []
    user_login_failed.connect(tried.append, dispatch_uid="test-address-tried")
    try:
        refused = login(school, "lovelace")
    finally:
        user_login_failed.disconnect(dispatch_uid="test-address-tried")
    assert refused.status_code == 429 and ADDRESS_BUSY in refused.content.decode()
    assert 'value="lovelace"' in refused.content.decode()
    assert "_auth_user_id" not in school.session and tried == []
    refused = signup(school, username="babbage")
    assert refused.status_code == 429 and ADDRESS_BUSY in refused.content.decode()
    assert not get_user_model().objects.filter(username="babbage").exists()
    key = "learnsite:password-checks:192.0.2.7"
    assert 0 < redis_client().ttl(key) <= PASSWORD_CHECK_WINDOW_SECONDS

    # Another address is not held up by them.
    login(home, "lovelace")
    assert "_auth_user_id" in home.session
    redis_client().delete(key, "learnsite:password-checks:198.51.100.9")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "https:/evil.example", "javascript:x"]
)
def test_a_next_off_this_site_is_ignored(client, target):
    signup(client)
    client.post("/accounts/logout/")

    assert target not in client.get("/accounts/login/", {"next": target}).content.decode()
    response = login(client, next=target)
    assert response.status_code == 302 and response.url == "/"


def test_a_next_on_this_site_is_followed(client):
    page = client.get("/accounts/signup/", {"next": "/labs/ping/"}).content.decode()
    assert '<input type="hidden" name="next" value="/labs/ping/">' in page

    response = signup(client, next="/labs/ping/")

    assert response.status_code == 302 and response.url == "/labs/ping/"
