"""A lab goal placed in a lesson is checked from the learner's runs and kept in their progress."""

import asyncio
import re

import pytest

from labs.goals import alab_goals_record
from learners.models import LabGoalMet, Learner
from tests.authoring.factory import make_lesson
from tests.http import LiveClient
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
    # The frame of the run's last event marks the goal done, out of band in the page's list.
    met = next(event for event in stream if 'id="goal-finish-a-run"' in event.data)
    stream.close()
    assert met.event == "runs"
    done = '<li id="goal-finish-a-run" hx-swap-oob="true" class="goal is-done" data-goal-done>'
    assert re.search(f"{done}.*Queue a task and watch a worker finish it.</li>", met.data)

    assert "✓</span> done" in learner.get("/lessons/goal-lesson/").text
    # Another learner has not met it.
    other = LiveClient(live_url)
    assert "✓</span> done" not in other.get("/lessons/goal-lesson/").text


@pytest.mark.django_db(transaction=True)
def test_goals_a_class_meets_at_once_are_recorded_for_each_learner_once():
    keys = [f"class-goal-{n}" for n in range(30)]
    Learner.objects.bulk_create([Learner(key=key) for key in keys])
    first = Learner.objects.get(key=keys[0])
    LabGoalMet.objects.create(learner=first, lab="ping", goal="finish-a-run")  # met before

    async def class_meets_its_goals() -> None:
        # One learner closes their page while their goal waits to be written: the others' are
        # written all the same.
        closed = asyncio.create_task(
            alab_goals_record(learner_id=keys[1], kind="ping", goals={"finish-a-run"})
        )
        await asyncio.sleep(0)
        closed.cancel()
        await asyncio.gather(*(
            alab_goals_record(learner_id=key, kind="ping", goals={"finish-a-run"})
            for key in keys[2:] + keys[:1]
        ))  # fmt: skip

    asyncio.run(class_meets_its_goals())
    met = LabGoalMet.objects.filter(learner__key__in=keys)
    assert sorted(met.values_list("learner__key", flat=True)) == sorted(keys)
