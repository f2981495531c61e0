"""The quiz pages through Django's test client: what a learner sees, and when."""

import re

import pytest
from django.test import Client

from quiz.models import Answer, Attempt, AttemptQuestion
from tests.authoring.factory import QUESTION_PARTS

# What must never be in a page before the question is answered.
SECRETS = [
    "Yes: that is what it does.",  # feedback of the right option
    "No: that is something else.",  # feedback of a wrong option
    "A broker holds messages",  # the solution
    "Broker = waiting room",  # the quick check
    "Thinking Redis runs the task",  # the common mistakes
    "is-correct",
    'hidden">right answer',  # the marker on the right option
]


def start(client: Client, mode: str) -> Attempt:
    response = client.post("/lessons/bank/attempts/", {"mode": mode})
    assert response.status_code == 302
    return Attempt.objects.get(pk=int(re.search(r"/attempts/(\d+)/", response.url).group(1)))


def right(item: AttemptQuestion) -> list[str]:
    return [o["key"] for o in item.version.options if o["correct"]]


def test_the_lesson_page_offers_the_modes_it_has(client, bank_lesson):
    html = client.get("/lessons/bank/").content.decode()
    assert "Practice" in html and "(6 questions)" in html
    assert "Quiz" in html and "(4 questions)" in html
    assert "Test this pattern" in html


def test_practice_hides_the_answer_until_it_is_given(client, bank_lesson):
    attempt = start(client, "practice")
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert "Question 1 of 6" in page
    for secret in SECRETS:
        assert secret not in page

    response = client.post(f"/attempts/{attempt.pk}/answer/", {"position": 1, "answer": "b"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Not quite." in page
    for shown in SECRETS[1:5]:
        assert shown in page
    assert "Final answer:</strong> A" in page
    assert f'href="/attempts/{attempt.pk}/?q=2"' in page


def test_hints_come_one_at_a_time_and_are_noted(client, bank_lesson):
    attempt = start(client, "practice")
    hints = QUESTION_PARTS["Hints"].splitlines()
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert "Which process" not in page and "Show a hint" in page

    client.post(f"/attempts/{attempt.pk}/hint/", {"position": 1}, HTTP_HX_REQUEST="true")
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert hints[0].removeprefix("- ") in page and hints[1].removeprefix("- ") not in page
    assert "Another hint" in page

    client.post(f"/attempts/{attempt.pk}/hint/", {"position": 1})
    client.post(f"/attempts/{attempt.pk}/hint/", {"position": 1})  # no third hint: stays at 2
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert hints[1].removeprefix("- ") in page and "Another hint" not in page
    assert attempt.items.get(position=1).hints_shown == 2


def test_an_htmx_answer_swaps_in_the_question_only(client, bank_lesson):
    attempt = start(client, "practice")
    response = client.post(
        f"/attempts/{attempt.pk}/answer/", {"position": 1, "answer": "a"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="practice"' in html and "Right." in html


def test_an_empty_practice_answer_is_a_form_error(client, bank_lesson):
    attempt = start(client, "practice")
    response = client.post(f"/attempts/{attempt.pk}/answer/", {"position": 1})
    assert response.status_code == 400
    assert "Choose an answer to question 1." in response.content.decode()
    assert not Answer.objects.exists()


def test_a_test_is_graded_at_the_end_with_a_breakdown_and_a_verdict(client, bank_lesson):
    attempt = start(client, "test")
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert page.count('class="question"') == 10
    for secret in SECRETS:
        assert secret not in page

    items = list(attempt.items.select_related("version"))
    partial = {f"q{item.position}": right(item) for item in items[:7]}
    response = client.post(f"/attempts/{attempt.pk}/submit/", partial)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Answer every question before you submit: 8, 9, 10 left." in html
    assert "<title>Error: " in html and html.count("Not answered yet.") == 3
    assert [f'<a href="#question-{n}">question {n}</a>' in html for n in (7, 8, 9, 10)] == [
        False, True, True, True,
    ]  # fmt: skip
    assert html.count(" checked") == sum(len(keys) for keys in partial.values())
    assert not Answer.objects.exists()

    answers = {f"q{item.position}": right(item) for item in items[:8]}
    wrong = {f"q{i.position}": [next(k for k in i.option_order if k not in right(i))]
             for i in items[8:]}  # fmt: skip
    answers |= wrong
    response = client.post(f"/attempts/{attempt.pk}/submit/", answers)
    assert response.status_code == 302
    result = client.get(response.url).content.decode()
    assert "8 / 10" in result and "(80%)" in result
    assert "<strong>Strong</strong>" in result
    assert "By difficulty" in result
    assert result.count("Step-by-step solution") == 10


def test_another_learners_attempt_is_not_found(client, bank_lesson):
    attempt = start(client, "practice")
    stranger = Client()
    assert stranger.get(f"/attempts/{attempt.pk}/").status_code == 404
    response = stranger.post(f"/attempts/{attempt.pk}/answer/", {"position": 1, "answer": "a"})
    assert response.status_code == 404
    assert not Answer.objects.exists()


def test_a_refusal_that_quotes_the_answer_sent_escapes_it(client, bank_lesson):
    # A refusal goes into the page as htmx swaps it in: what it quotes is escaped, on the
    # question's page as in a plain-text message.
    practice, quiz = start(client, "practice"), start(client, "quiz")
    answer = client.post(f"/attempts/{practice.pk}/answer/", {"position": "1", "answer": "<b>"})
    answers = {f"q{item.position}": right(item) for item in quiz.items.all()}
    submitted = client.post(f"/attempts/{quiz.pk}/submit/", answers)
    assert submitted.status_code == 302  # finished: a refusal now is the message alone
    again = client.post(f"/attempts/{quiz.pk}/submit/", {"q1": "<b>"})
    for response in (answer, again):
        assert response.status_code == 400
        assert "has no option &#x27;&lt;b&gt;&#x27;" in response.content.decode()


def test_posts_need_the_csrf_token(bank_lesson):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/lessons/bank/attempts/", {"mode": "practice"}).status_code == 403


@pytest.mark.parametrize("mode", ["", "review", "exam"])
def test_an_unknown_mode_is_a_400(client, bank_lesson, mode):
    response = client.post("/lessons/bank/attempts/", {"mode": mode})
    assert response.status_code == 400
    assert not Attempt.objects.exists()


def test_the_course_path_shows_a_passed_test_and_a_quiz_not_yet_taken(client, bank_lesson):
    path = client.get("/courses/course/").content.decode()
    assert "Read: done" not in path and "Test passed: not yet" in path
    attempt = start(client, "test")  # starting its questions counts as having read the lesson
    items = list(attempt.items.select_related("version"))
    answers = {f"q{item.position}": right(item) for item in items}
    assert client.post(f"/attempts/{attempt.pk}/submit/", answers).status_code == 302

    path = client.get("/courses/course/").content.decode()
    assert "Read: done" in path and "Test passed: done" in path and "Quiz: not yet" in path
    assert "2 of 3 done" in path


def test_a_practice_attempt_is_not_submitted_whole(client, bank_lesson):
    # A hand-made POST to the quiz's submit: refused with where its answers go, no quiz form.
    practice = start(client, "practice")
    response = client.post(f"/attempts/{practice.pk}/submit/", {"q1": "a"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert response.content.decode() == (
        "Practice and review answers are sent one at a time. "
        f"Post each to /attempts/{practice.pk}/answer/."
    )
    assert not Answer.objects.exists()
    assert Attempt.objects.get(pk=practice.pk).finished_at is None


@pytest.mark.parametrize(
    "data", [{"position": 1, "answer": "a"}, {"position": 1}, {"position": 9, "answer": "z"}]
)
def test_a_quiz_takes_no_answer_one_at_a_time(client, bank_lesson, data):
    # Whatever the answer sent, the refusal is that a quiz goes whole: no practice page, whose
    # hint and answer buttons could only fail.
    quiz = start(client, "quiz")
    response = client.post(f"/attempts/{quiz.pk}/answer/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert response.content.decode() == (
        "A quiz or test is submitted whole: its answers are sent together, at the end. "
        f"Post them all to /attempts/{quiz.pk}/submit/."
    )
    assert not Answer.objects.exists()


def test_a_submitted_quiz_takes_no_answer_or_hint_one_at_a_time(client, bank_lesson):
    quiz = start(client, "quiz")
    answers = {f"q{item.position}": right(item) for item in quiz.items.all()}
    assert client.post(f"/attempts/{quiz.pk}/submit/", answers).status_code == 302
    again = client.post(f"/attempts/{quiz.pk}/answer/", {"position": 1, "answer": answers["q1"]},
                        HTTP_HX_REQUEST="true")  # fmt: skip
    hint = client.post(f"/attempts/{quiz.pk}/hint/", {"position": 9}, HTTP_HX_REQUEST="true")
    assert (again.status_code, hint.status_code) == (400, 400)
    assert "A quiz or test is submitted whole" in again.content.decode()
    assert hint.content.decode() == "Hints are for practice; a quiz or test is taken without them."
    assert Answer.objects.count() == len(answers)


def test_a_position_with_leading_zeros_is_that_question_to_answer_and_hint(client, bank_lesson):
    practice = start(client, "practice")
    hint = client.post(f"/attempts/{practice.pk}/hint/", {"position": "01"})
    assert (hint.status_code, hint.url) == (302, f"/attempts/{practice.pk}/?q=1")
    empty = client.post(
        f"/attempts/{practice.pk}/answer/", {"position": "001"}, HTTP_HX_REQUEST="true"
    )
    html = empty.content.decode()
    assert empty.status_code == 400
    assert "Question 1 of 6" in html and "Choose an answer to question 1." in html
    answer = client.post(f"/attempts/{practice.pk}/answer/", {"position": "01", "answer": "a"})
    assert (answer.status_code, answer.url) == (302, f"/attempts/{practice.pk}/?q=1")
    assert Answer.objects.get().item.position == 1
    assert practice.items.get(position=1).hints_shown == 1


def test_a_position_that_names_no_question_is_a_400_that_names_them(client, bank_lesson):
    practice = start(client, "practice")
    sent = [" 1", "+1", "1.0", "-1", "", "one", "<b>", "0", "7", "9" * 30, "1" * 5000, "0" * 5000]
    refused = {
        (endpoint, position[:30]): client.post(
            f"/attempts/{practice.pk}/{endpoint}/", {"position": position, "answer": "a"},
            HTTP_HX_REQUEST="true",
        )
        for endpoint in ("answer", "hint") for position in sent
    }  # fmt: skip
    assert {key: r.status_code for key, r in refused.items()} == dict.fromkeys(refused, 400)
    messages = {r.content.decode() for r in refused.values()}
    assert messages == {
        "Say which question, by its number (1 to 6).",
        "This attempt has no question 0: its questions are 1 to 6.",
        "This attempt has no question 7: its questions are 1 to 6.",
    }
    assert not Answer.objects.exists()
    assert not practice.items.filter(hints_shown__gt=0).exists()
