"""A lab goal placed in a lesson is checked from the learner's runs and kept in their progress."""

import re

from tests.http import LiveClient
from tests.lessons.factory import make_lesson
from tests.stack import load_course

CHECK = "- Try the lab.\n\n```lab\nkind: ping\ngoal: finish-a-run\n```\n"


def test_a_finished_run_meets_the_goal_and_the_lesson_shows_it_done(live_url, redis_url, tmp_path):
    make_lesson(tmp_path / "course", slug="goal-lesson", sections={"Check it yourself": CHECK})
    load_course(tmp_path, redis_url)
    learner = LiveClient(live_url)
    lesson = learner.get("/lessons/goal-lesson/").text
    assert "Queue a task and watch a worker finish it." in lesson and "✓</span> done" not in lesson

    page = learner.get("/labs/ping/").text
    assert re.search(r'class="goal">.*To do:', page, re.S)
    stream = learner.events("/streams/labs/ping/events/")
    next(stream)
    learner.htmx_post("/labs/ping/start/")
    goals = next(event for event in stream if event.event == "goals")
    stream.close()
    assert "is-done" in goals.data and "Queue a task and watch a worker finish it." in goals.data

    assert "✓</span> done" in learner.get("/lessons/goal-lesson/").text
    # Another learner has not met it.
    other = LiveClient(live_url)
    assert "✓</span> done" not in other.get("/lessons/goal-lesson/").text
