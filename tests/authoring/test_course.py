"""The course itself ("Redis as a message broker in Django"): complete, and correct where a
program can tell.

Every runnable example runs against a real redis-server (and a real Celery worker for
`python run worker`) and must print what the lesson says; a question asking what a program
prints is answered by running the program. The loading of the course is tested in
test_content_load.py (test_the_real_course_loads).
"""

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from django.conf import settings

from authoring.content import content_validate
from authoring.examples import example_check, examples_find

COURSE = settings.CONTENT_DIR / "redis-broker"
# The plan: each lesson, in order, and the lab it places.
LESSON_LABS = {
    "offloading-slow-work": "email",
    "how-celery-uses-redis": "broker",
    "task-states-and-results": "lifecycle",
    "when-tasks-fail": "lifecycle",
    "publish-and-subscribe": "pubsub",
    "listeners-off-the-request-thread": "listen",
    "streaming-to-the-browser": "ping",
    "choosing-a-redis-structure": "console",
    "routing-queues-and-priorities": "routing",
    "worker-pools-and-concurrency": "pools",
    "watching-a-live-system": "watch",
    "when-redis-fails": "failure",
    "deploying-and-securing-workers": "deploy",
}
# Per lesson: at least this many questions in the lesson's quiz and practice, and in its test
# bank by difficulty (enough for the 10-question test: 3 easy, 4 medium, 3 hard, with spares).
AT_LEAST = {"quiz": 3, "practice": 5, "easy": 4, "medium": 4, "hard": 4}

COURSES, ERRORS = content_validate(root=settings.CONTENT_DIR)
LESSONS = [lesson for course in COURSES for lesson in course.lessons if course.path == COURSE]
EXAMPLES = examples_find(COURSES)


def test_the_course_passes_content_check():
    assert [str(error) for error in ERRORS] == []


def test_the_course_has_its_lessons_in_order():
    ordered = sorted(LESSONS, key=lambda lesson: lesson.meta["order"])
    assert [lesson.meta["slug"] for lesson in ordered] == list(LESSON_LABS)
    assert [lesson.meta["order"] for lesson in ordered] == list(range(1, 14))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.path.stem)
def test_each_lesson_has_its_questions(lesson):
    bank = [q for q in lesson.questions if "predict" not in q.meta.get("sets", [])]
    counts = Counter(q.meta["difficulty"] for q in bank)
    counts.update(name for q in bank for name in q.meta.get("sets", []))
    # Solution, quick check, hints and common mistakes are required by content_check.
    assert all(counts[need] >= least for need, least in AT_LEAST.items()), counts


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.path.stem)
def test_each_lesson_places_its_lab_and_asks_a_prediction_there(lesson):
    lab = LESSON_LABS[lesson.meta["slug"]]
    placed = [block.text for block in lesson.blocks if block.info == "lab"]
    assert any(f"kind: {lab}" in text for text in placed), placed
    predictions = [q for q in lesson.questions if "predict" in q.meta.get("sets", [])]
    assert [q.meta["lab"] for q in predictions] == [lab]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.path.stem)
def test_each_lesson_has_a_runnable_example(lesson):
    assert any(example.path == lesson.path for example in EXAMPLES)


# The examples mostly wait (for a worker to start, a countdown, a lesson's time.sleep), so they
# run a few at a time, each still against a fresh Redis (and worker) of its own; each test
# then takes its own example's verdict. Under pytest-xdist they stay on one worker (the group).
EXAMPLES_AT_ONCE = 4


@pytest.fixture(scope="module")
def example_verdicts(request) -> dict:
    """The selected examples, started in file order as threads come free: verdict futures."""
    chosen = [
        item.callspec.params["example"]
        for item in request.session.items
        if item.module is request.module
        and item.originalname == "test_the_example_prints_what_the_course_says"
    ]
    # Each example's processes end if the thread that started them does: these threads live
    # until the module is done (tests/stack.py die_with_parent).
    pool = ThreadPoolExecutor(EXAMPLES_AT_ONCE, thread_name_prefix="example")
    try:
        yield {example: pool.submit(example_check, example) for example in chosen}
    finally:
        pool.shutdown(cancel_futures=True)


@pytest.mark.xdist_group("course-examples")
@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_the_example_prints_what_the_course_says(example, example_verdicts):
    verdict: Future = example_verdicts[example]
    assert verdict.result() is None
