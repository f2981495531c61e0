"""Submitting one attempt from many connections at once, against the real server (uvicorn, the
test database): one submission is recorded, whole; every other is answered, none lost or
doubled, none a server error."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth.models import User

from quiz.api import api_token_issue
from quiz.models import Answer, Attempt
from tests.authoring.factory import make_lesson, make_questions, question_text
from tests.stack import load_course

SUBMITTERS = 12


def api(live_url: str, path: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{live_url}/api/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_concurrent_submits_of_one_attempt_record_one_submission_whole(
    live_url, redis_url, tmp_path
):
    make_questions(
        make_lesson(tmp_path / "course", slug="submit-race"),
        question_text(qid="race-one"),
        question_text(qid="race-two"),
    )
    load_course(tmp_path, redis_url)
    token = api_token_issue(user=User.objects.create_user("racer", password="long password 1"))
    status, attempt = api(live_url, "attempts", {"lesson": "submit-race", "mode": "quiz"}, token)
    assert status == 201, attempt
    # Half the submitters send one set of answers, half another: only one set may be kept.
    bodies = [
        {"answers": {"1": [option], "2": [option]}} for option in ("a", "b") * (SUBMITTERS // 2)
    ]

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        results = list(
            pool.map(lambda body: api(live_url, f"attempts/{attempt['id']}/submit", body, token),
                     bodies)
        )  # fmt: skip

    stored = Answer.objects.filter(item__attempt_id=attempt["id"]).order_by("item__position")
    kept = [answer.chosen for answer in stored]
    assert len(kept) == 2 and kept[0] == kept[1]  # one whole submission, nothing doubled
    for body, (status, reply) in zip(bodies, results, strict=True):
        if body["answers"]["1"] == kept[0]:
            assert status == 200, reply  # the kept submission, or the same one again
        else:
            assert status == 400, reply
            assert "This attempt is finished" in reply["error"]
    finished = Attempt.objects.get(pk=attempt["id"])
    assert finished.finished_at is not None
    assert finished.score == sum(answer.credit for answer in stored)
