"""The JSON API through Django's test client: start, answer, submit, read; refusals; who may ask."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from authoring.content import content_load
from quiz.api import api_token_issue
from quiz.models import Answer, Attempt, ReviewItem
from tests.authoring.factory import make_lesson, make_questions, question_text

MULTIPLE = (
    "- [x] Holds the messages.\n  > Yes: until a worker takes them.\n"
    "- [x] Hands them to workers.\n  > Yes: one at a time.\n"
    "- [ ] Runs the task.\n  > No: the worker runs it.\n"
)
# Texts that only a graded answer may carry (option feedback, the solution).
SECRETS = ["Yes: that is what it does", "until a worker takes them", "A broker holds messages"]


@pytest.fixture
def lesson(db, tmp_path) -> str:
    """A lesson with two questions: 1 is single (a is right), 2 is multiple (a and b)."""
    path = make_lesson(tmp_path / "course", slug="api-lesson", order=1)
    make_questions(
        path,
        question_text(qid="api-single", title="Where do messages wait?"),
        question_text(qid="api-multiple", title="What does the broker do?", options=MULTIPLE,
                      meta={"type": "multiple", "difficulty": "hard"}),
    )  # fmt: skip
    content_load(root=tmp_path)
    return "api-lesson"


def make_user(name: str = "ada") -> User:
    return User.objects.create_user(name, password="a long enough password")


@pytest.fixture
def token(db) -> str:
    return api_token_issue(user=make_user())


def call(client: Client, method: str, path: str, body=None, *, token: str = "",
         content_type: str = "application/json"):  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(f"/api/v1/{path}", headers=headers)
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/api/v1/{path}", data, content_type=content_type, headers=headers)


def start(client: Client, token: str, mode: str, lesson: str = "api-lesson") -> dict:
    response = call(client, "POST", "attempts", {"lesson": lesson, "mode": mode}, token=token)
    assert response.status_code == 201, response.content
    return response.json()


def assert_reveals_nothing(text: str) -> None:
    for word in ["correct", "feedback", "solution", "quick_check", "mistakes", *SECRETS]:
        assert word not in text


def test_start_sends_the_questions_in_order_and_nothing_that_gives_the_answer(
    client, lesson, token
):
    response = call(client, "POST", "attempts", {"lesson": lesson, "mode": "practice"},
                    token=token)  # fmt: skip

    assert response.status_code == 201
    assert_reveals_nothing(response.content.decode())
    attempt = response.json()
    assert attempt["mode"] == "practice" and attempt["lesson"] == "api-lesson"
    assert attempt["finished"] is False and attempt["score"] is None
    assert [q["position"] for q in attempt["questions"]] == [1, 2]
    assert "Where do messages wait?" in attempt["questions"][0]["title_html"]
    assert [q["kind"] for q in attempt["questions"]] == ["single", "multiple"]
    assert [o["key"] for o in attempt["questions"][1]["options"]] == ["a", "b", "c"]
    assert "Holds the messages." in attempt["questions"][1]["options"][0]["html"]

    again = call(client, "GET", f"attempts/{attempt['id']}", token=token)
    assert again.status_code == 200
    assert_reveals_nothing(again.content.decode())
    assert again.json()["questions"] == attempt["questions"]


def test_a_test_shows_the_options_in_the_attempts_order(client, lesson, token):
    attempt = start(client, token, "test")
    stored = Attempt.objects.get(pk=attempt["id"])
    for question, item in zip(attempt["questions"], stored.items.all(), strict=True):
        assert [o["key"] for o in question["options"]] == item.option_order
    assert_reveals_nothing(json.dumps(attempt))


def test_a_practice_answer_is_graded_and_reveals_only_its_question(client, lesson, token):
    attempt = start(client, token, "practice")

    response = call(client, "POST", f"attempts/{attempt['id']}/answers",
                    {"position": 1, "chosen": ["a"]}, token=token)  # fmt: skip

    assert response.status_code == 200
    answered = response.json()
    assert answered["attempt"]["finished"] is False
    result = answered["question"]["result"]
    assert result["chosen"] == ["a"] and result["correct"] is True and result["credit"] == 1.0
    assert result["correct_keys"] == ["a"]
    assert [f["key"] for f in result["feedback"]] == ["a", "b"]
    assert "that is what it does" in result["feedback"][0]["html"]
    assert "A broker holds messages" in result["solution_html"]
    questions = call(client, "GET", f"attempts/{attempt['id']}", token=token).json()["questions"]
    assert questions[0]["result"] == result
    assert questions[1]["answered"] is False
    assert_reveals_nothing(json.dumps(questions[1]))


def test_the_last_practice_answer_finishes_the_attempt(client, lesson, token):
    attempt = start(client, token, "practice")
    call(client, "POST", f"attempts/{attempt['id']}/answers", {"position": 1, "chosen": ["a"]},
         token=token)  # fmt: skip

    response = call(client, "POST", f"attempts/{attempt['id']}/answers",
                    {"position": 2, "chosen": ["a"]}, token=token)  # fmt: skip

    assert response.status_code == 200
    graded = response.json()
    assert graded["question"]["result"]["correct"] is False
    assert graded["question"]["result"]["correct_keys"] == ["a", "b"]
    assert graded["attempt"]["finished"] is True
    assert graded["attempt"]["score"] == 1.0 and graded["attempt"]["percent"] == 50
    assert graded["attempt"]["verdict"] is None  # verdicts are for tests
    assert graded["attempt"]["breakdown"] == [
        {"difficulty": "easy", "asked": 1, "score": 1.0, "percent": 100},
        {"difficulty": "hard", "asked": 1, "score": 0.0, "percent": 0},
    ]


def test_an_answer_sent_twice_is_recorded_once(client, lesson, token):
    attempt = start(client, token, "practice")
    body = {"position": 1, "chosen": ["a"]}

    first = call(client, "POST", f"attempts/{attempt['id']}/answers", body, token=token)
    second = call(client, "POST", f"attempts/{attempt['id']}/answers", body, token=token)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert Answer.objects.count() == 1


def test_a_quiz_is_submitted_whole_and_graded(client, lesson, token):
    attempt = start(client, token, "quiz")

    response = call(client, "POST", f"attempts/{attempt['id']}/submit",
                    {"answers": {"1": ["a"], "2": ["b", "a"]}}, token=token)  # fmt: skip

    assert response.status_code == 200
    graded = response.json()
    assert graded["finished"] is True
    assert graded["score"] == 2.0 and graded["max_score"] == 2 and graded["percent"] == 100
    assert graded["verdict"] is None
    assert [q["result"]["chosen"] for q in graded["questions"]] == [["a"], ["a", "b"]]
    assert all(q["result"]["credit"] == 1.0 for q in graded["questions"])
    assert call(client, "GET", f"attempts/{attempt['id']}", token=token).json() == graded


def test_a_test_gets_a_verdict(client, lesson, token):
    attempt = start(client, token, "test")
    answers = {
        str(q["position"]): ["a", "b"] if q["kind"] == "multiple" else ["b"]
        for q in attempt["questions"]
    }

    graded = call(client, "POST", f"attempts/{attempt['id']}/submit", {"answers": answers},
                  token=token).json()  # fmt: skip

    assert graded["percent"] == 50 and graded["verdict"] == "developing"
    assert {row["difficulty"] for row in graded["breakdown"]} == {"easy", "hard"}


def test_a_submission_sent_twice_is_recorded_once(client, lesson, token):
    attempt = start(client, token, "quiz")
    body = {"answers": {"1": ["a"], "2": ["c"]}}

    first = call(client, "POST", f"attempts/{attempt['id']}/submit", body, token=token)
    second = call(client, "POST", f"attempts/{attempt['id']}/submit", body, token=token)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert Answer.objects.count() == 2


SUBMIT_REFUSALS = [
    ({"answers": {"1": ["a"], "2": ["a"], "3": ["a"]}}, "no question 3: its questions are 1 to 2."),
    ({"answers": {"1": ["z"], "2": ["a"]}}, "Question 1 has no option 'z'"),
    ({"answers": {"1": ["a", "b"], "2": ["a"]}}, "Question 1 takes one answer, not 2."),
    ({"answers": {"1": ["a"]}}, "Answer every question before you submit: 2 left."),
    ({"answers": {"1": [], "2": ["a"]}}, "Choose an answer to question 1."),
    ({"answers": {}}, "Answer every question before you submit: 1, 2 left."),
    ({}, "Missing field 'answers'"),
    ({"answers": {"1": ["a"], "2": ["a"]}, "finish": True}, "Unknown field 'finish'"),
    ({"answers": [["a"], ["a"]]}, "'answers' maps question numbers"),
    ({"answers": {"one": ["a"], "2": ["a"]}}, "'one' is not a question number"),
    ({"answers": {"1": "a", "2": ["a"]}}, "The answer to question 1 is a list"),
    ({"answers": {"1": [1], "2": ["a"]}}, "Send the chosen options as a list of option letters."),
    (["answers"], "Send a JSON object."),
    ('{"answers": {"1": ["a"]', "The body is not valid JSON"),
    ('{"answers": NaN}', "The body is not valid JSON"),
    (" ", "The body is not valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), SUBMIT_REFUSALS)
def test_a_submission_that_does_not_fit_is_refused_and_changes_nothing(
    client, lesson, token, body, message
):
    attempt = start(client, token, "quiz")

    response = call(client, "POST", f"attempts/{attempt['id']}/submit", body, token=token)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Answer.objects.count() == 0
    assert Attempt.objects.get(pk=attempt["id"]).finished_at is None


def test_a_body_that_is_not_json_is_refused(client, lesson, token):
    attempt = start(client, token, "quiz")

    response = call(client, "POST", f"attempts/{attempt['id']}/submit", "answers=1",
                    token=token, content_type="application/x-www-form-urlencoded")  # fmt: skip

    assert response.status_code == 400
    assert "Content-Type: application/json" in response.json()["error"]
    assert Answer.objects.count() == 0


def test_a_finished_attempt_takes_no_other_submission(client, lesson, token):
    attempt = start(client, token, "quiz")
    url = f"attempts/{attempt['id']}/submit"
    call(client, "POST", url, {"answers": {"1": ["a"], "2": ["a", "b"]}}, token=token)

    response = call(client, "POST", url, {"answers": {"1": ["b"], "2": ["c"]}}, token=token)

    assert response.status_code == 400
    assert "This attempt is finished" in response.json()["error"]
    assert sorted(Answer.objects.values_list("chosen", flat=True)) == [["a"], ["a", "b"]]


ANSWER_REFUSALS = [
    ({"position": 3, "chosen": ["a"]}, "This attempt has no question 3: its questions are 1 to 2."),
    ({"position": 0, "chosen": ["a"]}, "This attempt has no question 0: its questions are 1 to 2."),
    ({"position": 10**30, "chosen": ["a"]}, "This attempt has no question"),
    ({"position": 1, "chosen": ["d"]}, "Question 1 has no option 'd'"),
    ({"position": 1, "chosen": ["a", "b"]}, "Question 1 takes one answer, not 2."),
    ({"position": 1, "chosen": []}, "Choose an answer to question 1."),
    ({"position": "1", "chosen": ["a"]}, "'position' is the question's number"),
    ({"position": 1.5, "chosen": ["a"]}, "'position' is the question's number"),
    ({"position": True, "chosen": ["a"]}, "'position' is the question's number"),
    ({"position": 1, "chosen": "a"}, "'chosen' is a list of option keys"),
    ({"position": 1}, "Missing field 'chosen'"),
    ('{"position": 1, "chosen": ["a"]', "The body is not valid JSON"),
    ('{"position": Infinity, "chosen": ["a"]}', "The body is not valid JSON"),
    ("[" * 100_000, "The body is not valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), ANSWER_REFUSALS)
def test_an_answer_that_does_not_fit_is_refused_and_changes_nothing(
    client, lesson, token, body, message
):
    attempt = start(client, token, "practice")

    response = call(client, "POST", f"attempts/{attempt['id']}/answers", body, token=token)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Answer.objects.count() == 0


def test_quiz_answers_are_not_taken_one_by_one(client, lesson, token):
    attempt = start(client, token, "quiz")

    response = call(client, "POST", f"attempts/{attempt['id']}/answers",
                    {"position": 1, "chosen": ["a"]}, token=token)  # fmt: skip

    assert response.status_code == 400
    assert "sent together, at the end" in response.json()["error"]
    assert Answer.objects.count() == 0


def test_an_answered_question_keeps_its_answer(client, lesson, token):
    attempt = start(client, token, "practice")
    url = f"attempts/{attempt['id']}/answers"
    call(client, "POST", url, {"position": 1, "chosen": ["b"]}, token=token)

    response = call(client, "POST", url, {"position": 1, "chosen": ["a"]}, token=token)

    assert response.status_code == 400
    assert "already answered" in response.json()["error"]
    assert list(Answer.objects.values_list("chosen", flat=True)) == [["b"]]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"lesson": "no-such-lesson", "mode": "quiz"}, 404, "No such lesson."),
        ({"lesson": "../api-lesson", "mode": "quiz"}, 404, "No such lesson."),
        ({"lesson": "api-lesson", "mode": "exam"}, 400, "'mode' is one of"),
        ({"lesson": 7, "mode": "quiz"}, 400, "'lesson' is a lesson's slug"),
        ({"mode": "quiz"}, 400, "Say which lesson to practise."),
        ({"lesson": "api-lesson"}, 400, "Missing field 'mode'"),
        ({"lesson": "api-lesson", "mode": "review"}, 400, "send no 'lesson'"),
        ({"mode": "review"}, 400, "Nothing is due for review"),
    ],
)
def test_an_attempt_that_cannot_start_is_refused(client, lesson, token, body, status, message):
    response = call(client, "POST", "attempts", body, token=token)

    assert response.status_code == status
    assert message in response.json()["error"]
    assert Attempt.objects.count() == 0


def test_a_review_brings_back_a_missed_question(client, lesson, token):
    practice = start(client, token, "practice")
    call(client, "POST", f"attempts/{practice['id']}/answers", {"position": 1, "chosen": ["b"]},
         token=token)  # fmt: skip
    assert ReviewItem.objects.count() == 1

    response = call(client, "POST", "attempts", {"mode": "review"}, token=token)

    assert response.status_code == 201
    review = response.json()
    assert review["mode"] == "review" and review["lesson"] is None
    assert len(review["questions"]) == 1
    assert "Where do messages wait?" in review["questions"][0]["title_html"]
    assert_reveals_nothing(response.content.decode())


def test_another_learners_attempt_is_not_found(client, lesson, token):
    attempt = start(client, token, "quiz")
    other = api_token_issue(user=make_user("grace"))
    answer = {"position": 1, "chosen": ["a"]}
    submission = {"answers": {"1": ["a"], "2": ["a", "b"]}}

    assert call(client, "GET", f"attempts/{attempt['id']}", token=other).status_code == 404
    for path, body in [("answers", answer), ("submit", submission)]:
        response = call(client, "POST", f"attempts/{attempt['id']}/{path}", body, token=other)
        assert response.status_code == 404
        assert response.json() == {"error": "No such attempt."}
    assert Answer.objects.count() == 0
    assert call(client, "GET", f"attempts/{attempt['id'] + 1}", token=token).status_code == 404
    assert call(client, "GET", f"attempts/{10**30}", token=token).status_code == 404


def test_the_api_token_command_prints_a_working_token(client, lesson):
    make_user("linus")
    out = StringIO()
    call_command("api_token", "linus", stdout=out)

    token = out.getvalue().strip()

    assert start(client, token, "quiz")["mode"] == "quiz"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token, other: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature
        lambda token, other: f"{other}{token[token.index(':') :]}",  # another user's id
        lambda token, other: token.split(":", 1)[1],
        lambda token, other: "",
    ],
)
def test_a_bad_token_is_refused(client, lesson, mangle):
    other = make_user("other")
    token = api_token_issue(user=make_user())

    response = call(client, "POST", "attempts", {"lesson": lesson, "mode": "quiz"},
                    token=mangle(token, other.pk) or " ")  # fmt: skip

    assert response.status_code == 401
    assert "token is not valid" in response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert Attempt.objects.count() == 0


def test_a_token_ends_with_a_new_password(client, lesson):
    user = make_user()
    token = api_token_issue(user=user)
    user.set_password("another long password")
    user.save()

    assert call(client, "GET", "attempts/1", token=token).status_code == 401


def test_a_request_with_no_token_and_no_learner_is_refused(client, lesson):
    response = call(client, "POST", "attempts", {"lesson": lesson, "mode": "quiz"})

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]
    assert Attempt.objects.count() == 0


def test_a_session_post_needs_the_csrf_token(lesson):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    body = {"lesson": lesson, "mode": "practice"}

    refused = call(client, "POST", "attempts", body)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    assert Attempt.objects.count() == 0

    client.cookies["csrftoken"] = secret = "s" * 32
    client.defaults["HTTP_X_CSRFTOKEN"] = secret
    started = call(client, "POST", "attempts", body)
    assert started.status_code == 201
    assert call(client, "GET", f"attempts/{started.json()['id']}").status_code == 200


def test_a_token_request_needs_no_csrf_token(lesson, token):
    client = Client(enforce_csrf_checks=True)

    assert call(client, "POST", "attempts", {"lesson": lesson, "mode": "quiz"},
                token=token).status_code == 201  # fmt: skip


def test_the_session_and_the_token_of_one_user_share_a_learner(client, lesson):
    user = make_user()
    client.force_login(user)
    attempt = call(client, "POST", "attempts", {"lesson": lesson, "mode": "quiz"}).json()

    by_token = call(Client(), "GET", f"attempts/{attempt['id']}", token=api_token_issue(user=user))

    assert by_token.status_code == 200


def test_a_wrong_method_is_refused_with_json(client, token):
    response = call(client, "GET", "attempts", token=token)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "error" in response.json()


def test_the_openapi_description_is_served_without_a_login(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/attempts",
        "/attempts/{attempt_id}",
        "/attempts/{attempt_id}/answers",
        "/attempts/{attempt_id}/submit",
        "/openapi.json",
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
