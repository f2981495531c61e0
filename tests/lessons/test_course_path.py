"""The home page, a course's path, search, and what a GET may not do: write to the database,
render what was already rendered for this content version, or answer 304 to another learner."""

import re

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from authoring.content import content_load
from learners.models import Learner
from quiz.models import Attempt
from tests.authoring.factory import make_lesson, make_questions, question_text

pytestmark = pytest.mark.django_db
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    make_lesson(folder, slug="p-first", order=1, title="First steps",
                front={"summary": "Where it starts.", "minutes": 7})  # fmt: skip
    second = make_lesson(folder, slug="p-second", order=2, title="Second steps",
                         front={"prerequisites": "[p-first]", "minutes": 9})  # fmt: skip
    make_questions(second, *(question_text(qid=f"p-q{n}") for n in (1, 2, 3)))
    content_load(root=tmp_path)
    return folder


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith(WRITES)]


def test_home_lists_courses_not_lessons_and_links_each_course(client, course):
    page = client.get("/").content.decode()
    assert 'href="/courses/course/"' in page and "Test course" in page
    assert "2 lessons · 16 min" in page and "0 of 2 lessons read" in page
    assert 'href="/lessons/p-first/"' not in page  # the lessons are on the course's page
    assert 'action="/search/"' in page


def test_the_course_page_is_the_path_in_order_with_what_each_lesson_needs(client, course):
    page = client.get("/courses/course/").content.decode()
    assert page.index("First steps") < page.index("Second steps")
    first, second = page.split('class="path-step')[1:3]
    assert "Needs first:" in first and "nothing, start here" in first and "7 min" in first
    assert '<a href="/lessons/p-first/">First steps</a>' in second and "9 min" in second
    assert "Read: not yet" in second and "Quiz: not yet" in second
    assert 'aria-current="step"' in first and "Next for you" in first

    client.post("/lessons/p-first/read/")

    page = client.get("/courses/course/").content.decode()
    first, second = page.split('class="path-step')[1:3]
    assert "Read: done" in first and 'aria-current="step"' in second
    assert "First steps</a> (read)" in second and "1 of 2 read" in page


def test_an_unknown_course_is_a_404(client, course):
    assert client.get("/courses/nope/").status_code == 404


def test_search_finds_lessons_by_title_and_summary(client, course):
    by_title = client.get("/search/", {"q": "second"}).content.decode()
    assert 'href="/lessons/p-second/"' in by_title and 'href="/lessons/p-first/"' not in by_title
    by_summary = client.get("/search/", {"q": "where it STARTS"}).content.decode()
    assert 'href="/lessons/p-first/"' in by_summary and "1 lesson match" in by_summary
    nothing = client.get("/search/", {"q": "<b>zebra</b>"}).content.decode()
    assert "No lesson matches “&lt;b&gt;zebra&lt;/b&gt;”" in nothing


def test_reading_a_lesson_records_nothing_until_the_learner_says_so(client, course):
    page = client.get("/lessons/p-first/").content.decode()
    assert "Mark this lesson as read" in page and "0 read in" in page

    response = client.post("/lessons/p-first/read/")
    assert response.status_code == 302 and response.url == "/lessons/p-first/#lesson-end"
    page = client.get("/lessons/p-first/").content.decode()
    assert "you have read this lesson" in page and "Mark this lesson as read" not in page
    assert "1 read in" in page
    assert client.get("/lessons/p-first/read/").status_code == 405


def test_marking_read_with_htmx_answers_the_reading_part_alone(client, course):
    response = client.post("/lessons/p-first/read/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div class="reading"')
    assert "1 read in" in html and "autofocus" in html


def test_no_get_writes_to_the_database_nor_makes_a_learner(course):
    client = Client()
    urls = ["/", "/courses/course/", "/lessons/p-first/", "/lessons/p-second/", "/search/?q=x",
            "/review/"]  # fmt: skip
    for url in urls:  # a first visit, with no session
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        # A lesson's body is rendered by the first page that shows it and stored, once.
        stored = ['UPDATE "lessons_lesson"'] if url.startswith("/lessons/") else []
        assert [sql.split(" SET")[0] for sql in writes(queries)] == stored, url
    assert client.get("/attempts/1/").status_code == 404
    assert not Learner.objects.exists()

    client.post("/lessons/p-second/attempts/", {"mode": "practice"})  # a learner and a session
    attempt = Attempt.objects.get()
    for url in [*urls, f"/attempts/{attempt.pk}/", f"/attempts/{attempt.pk}/?q=2"]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert writes(queries) == [], url


def test_a_rendered_lesson_is_reused_until_content_load_changes_it(client, course):
    assert "Concept" in client.get("/lessons/p-first/").content.decode()
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/lessons/p-first/").content.decode()
    assert "Concept" in page
    assert not [q for q in queries if "lessons_lesson" in q["sql"]]  # the version alone

    make_lesson(course, slug="p-first", order=1, title="First steps, edited",
                sections={"Concept": "Rewritten concept."})  # fmt: skip
    content_load(root=course.parent)

    page = client.get("/lessons/p-first/").content.decode()
    assert "First steps, edited" in page and "Rewritten concept." in page
    assert "First steps, edited" in client.get("/courses/course/").content.decode()


def etag_of(client: Client, url: str) -> str:
    client.get(url)  # the first visit sets the CSRF cookie the page's forms carry
    response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response["Vary"]
    return response["ETag"]


@pytest.mark.parametrize("url", ["/", "/courses/course/", "/lessons/p-first/"])
def test_a_page_unchanged_for_this_learner_is_a_304_and_never_for_another(course, url):
    ada, bob = Client(), Client()
    etag = etag_of(ada, url)
    assert ada.get(url, headers={"If-None-Match": etag}).status_code == 304

    response = bob.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.content
    assert etag_of(bob, url) != etag

    ada.post("/lessons/p-first/read/")  # her progress changes every one of these pages
    assert ada.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_a_page_is_a_304_no_more_once_the_content_changes(client, course):
    etag = etag_of(client, "/lessons/p-second/")
    make_lesson(course, slug="p-second", order=2, title="Second steps, edited")
    content_load(root=course.parent)
    response = client.get("/lessons/p-second/", headers={"If-None-Match": etag})
    assert response.status_code == 200 and "Second steps, edited" in response.content.decode()


def test_a_cached_page_carries_each_learners_own_working_csrf_token(course):
    tokens = []
    for _ in range(2):  # the second learner gets the page the first one's request rendered
        learner = Client(enforce_csrf_checks=True)
        page = learner.get("/lessons/p-first/").content.decode()
        assert "__learnsite_csrf_token__" not in page
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        assert f'"x-csrftoken": "{token}"' in page
        response = learner.post("/lessons/p-first/read/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        tokens.append(token)
    assert tokens[0] != tokens[1]


@override_settings(CONTENT_AUTHORING=False, CONTENT_VERSION_SECONDS=3600)
def test_outside_authoring_a_page_costs_no_query_and_a_load_still_shows_at_once(course):
    """Outside authoring mode each process keeps the version it read for a while: a visitor's
    lesson page then costs no query at all, and a content_load in the process is seen at once."""
    visitor = Client()  # (the fixture's content_load made this process forget its version)
    assert visitor.get("/lessons/p-first/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert "First steps" in visitor.get("/lessons/p-first/").content.decode()
    assert [query["sql"] for query in queries] == []

    make_lesson(course, slug="p-first", order=1, title="First steps, edited")
    content_load(root=course.parent)
    assert "First steps, edited" in visitor.get("/lessons/p-first/").content.decode()


@override_settings(CONTENT_AUTHORING=False, CONTENT_VERSION_SECONDS=3600)
def test_outside_authoring_a_learner_still_sees_their_own_progress(course):
    ada, bob = Client(), Client()
    assert "0 of 2 lessons read" in ada.get("/").content.decode()
    ada.post("/lessons/p-first/read/")
    assert "1 of 2 lessons read" in ada.get("/").content.decode()
    assert "Read: done" in ada.get("/courses/course/").content.decode()
    assert "0 of 2 lessons read" in bob.get("/").content.decode()
