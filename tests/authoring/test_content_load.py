"""content_load: the files become rows all or nothing, only what changed is written, questions
keep every version they had, and what leaves the files is retired, never deleted."""

import dataclasses
from pathlib import Path

import pytest

from authoring.content import (
    ContentInvalid,
    content_load,
    content_problems_record,
    content_validate,
)
from labs.registry import LAB_KINDS
from lessons.body import lesson_body_rendered
from lessons.models import ContentProblem, Course, Lesson
from quiz.models import Question, QuestionVersion
from quiz.rendering import versions_rendered

from .factory import make_lesson, make_questions, predict_question_text, question_text

pytestmark = pytest.mark.django_db

CONTENT = Path(__file__).resolve().parents[2] / "content"


def dump() -> dict[str, list[dict]]:
    """Every row the loader writes, to compare the database before and after."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Course, Lesson, Question, QuestionVersion)
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def sections_by_kind(slug: str) -> dict[str, dict]:
    """The lesson's sections as its page shows them: rendered (on first need)."""
    lesson = lesson_body_rendered(lesson=Lesson.objects.get(slug=slug))
    return {section["kind"]: section for section in lesson.sections}


def shown_version(key: str) -> QuestionVersion:
    """The question's current version as a page shows it: rendered (on first need)."""
    [version] = versions_rendered(versions=[Question.objects.get(key=key).current_version])
    return version


@pytest.fixture
def course(tmp_path) -> Path:
    """A course of two lessons, the first with two questions, loaded once."""
    folder = tmp_path / "course"
    first = make_lesson(folder, slug="first", order=1, title="First steps")
    make_questions(first, question_text(qid="broker-role"), question_text(qid="delay-call"))
    make_lesson(folder, slug="second", order=2, title="Second steps")
    content_load(root=tmp_path)
    return folder


def test_the_real_course_loads(tmp_path):
    courses, errors = content_validate(root=CONTENT)
    assert errors == []
    report = content_load(root=CONTENT)
    lessons = [lesson for course in courses for lesson in course.lessons]
    assert report.lessons_created == len(lessons) > 0
    assert Question.objects.active().count() == sum(len(lesson.questions) for lesson in lessons)


def test_a_course_becomes_ordered_lessons_with_their_sections(tmp_path):
    make_lesson(tmp_path / "course", slug="later", order=2, title="Later")
    first = make_lesson(tmp_path / "course", slug="sooner", order=1, title="Sooner",
                        front={"track": "Background tasks", "impact": "high"})  # fmt: skip
    make_questions(first, question_text(qid="one"), question_text(qid="two"))

    report = content_load(root=tmp_path)

    assert (report.lessons_created, report.question_versions_created) == (2, 2)
    course = Course.objects.get(slug="course")
    assert (course.title, course.summary) == ("Test course", "A course written for the tests.")
    assert list(course.lessons.values_list("slug", flat=True)) == ["sooner", "later"]
    lesson = Lesson.objects.get(slug="sooner")
    assert (lesson.title, lesson.track, lesson.impact) == ("Sooner", "Background tasks", "high")
    assert (lesson.source_path, lesson.questions_path) == (
        "course/01-sooner.md",
        "course/01-sooner.questions.md",
    )
    assert [section["kind"] for section in lesson.sections] == [
        "concept", "bad", "good", "comparison", "bottleneck", "tips", "check",
    ]  # fmt: skip
    assert [section["anchor"] for section in lesson.sections][:2] == ["concept", "bad-pattern"]
    assert list(lesson.questions.values_list("key", "position")) == [("one", 1), ("two", 2)]
    version = shown_version("one")
    assert (version.number, version.difficulty, version.kind) == (1, "easy", "single")
    assert [option["correct"] for option in version.options] == [True, False]
    assert version.hints == [
        "<p>Which process runs the code?</p>",
        "<p>Which one only stores data?</p>",
    ]


def test_loading_again_changes_nothing(course, tmp_path):
    before = dump()

    report = content_load(root=tmp_path)

    assert (report.lessons_created, report.lessons_updated, report.lessons_unchanged) == (0, 0, 2)
    assert (report.question_versions_created, report.questions_retired) == (0, 0)
    assert dump() == before


def test_an_edited_lesson_is_updated_in_place(course, tmp_path):
    edit(course / "02-second.md", "title: Second steps", "title: Second, renamed")
    report = content_load(root=tmp_path)
    assert (report.lessons_created, report.lessons_updated, report.changed) == (0, 1, ["second"])
    assert Lesson.objects.get(slug="second").title == "Second, renamed"


def test_an_edited_question_gets_a_new_version_and_keeps_the_old(course, tmp_path):
    questions = course / "01-first.questions.md"
    question = Question.objects.get(key="broker-role")
    shown_version("broker-role")
    first_version = list(question.versions.values())

    edit(questions, "A wrong answer to broker-role.", "Another wrong answer to broker-role.")
    report = content_load(root=tmp_path)

    assert report.question_versions_created == 1
    version = shown_version("broker-role")
    assert version.number == 2
    assert "Another wrong answer" in version.options[1]["html"]
    assert list(question.versions.filter(number=1).values()) == first_version
    assert Question.objects.get(key="delay-call").versions.count() == 1


def test_editing_only_the_sets_makes_no_version(course, tmp_path):
    edit(course / "01-first.questions.md", "sets: [quiz, practice]", "sets: [practice]")
    report = content_load(root=tmp_path)

    assert report.question_versions_created == 0
    question = Question.objects.get(key="broker-role")
    assert (question.sets, question.versions.count()) == (["practice"], 1)


def test_editing_a_question_back_points_at_its_first_version(course, tmp_path):
    questions = course / "01-first.questions.md"
    original = questions.read_text()
    edit(questions, "The right answer to broker-role.", "The best answer to broker-role.")
    content_load(root=tmp_path)

    questions.write_text(original)
    report = content_load(root=tmp_path)

    assert report.question_versions_created == 0
    question = Question.objects.get(key="broker-role")
    assert question.current_version.number == 1
    assert question.versions.count() == 2


def test_a_question_removed_from_the_file_is_retired_with_its_versions(course, tmp_path):
    make_questions(course / "01-first.md", question_text(qid="delay-call"))
    report = content_load(root=tmp_path)

    assert report.questions_retired == 1
    question = Question.objects.get(key="broker-role")
    assert question.retired
    assert question.versions.count() == 1
    assert list(Question.objects.active().values_list("key", flat=True)) == ["delay-call"]


def test_a_removed_lesson_is_retired_and_comes_back(course, tmp_path):
    lesson_text = (course / "01-first.md").read_text()
    questions_text = (course / "01-first.questions.md").read_text()
    (course / "01-first.md").unlink()
    (course / "01-first.questions.md").unlink()

    report = content_load(root=tmp_path)

    assert (report.lessons_retired, report.questions_retired) == (1, 2)
    assert Lesson.objects.get(slug="first").retired
    assert list(Lesson.objects.active().values_list("slug", flat=True)) == ["second"]
    assert set(Question.objects.values_list("key", "retired")) == {
        ("broker-role", True),
        ("delay-call", True),
    }
    assert QuestionVersion.objects.count() == 2

    (course / "01-first.md").write_text(lesson_text)
    (course / "01-first.questions.md").write_text(questions_text)
    content_load(root=tmp_path)

    assert not Lesson.objects.get(slug="first").retired
    assert Question.objects.active().count() == 2
    assert QuestionVersion.objects.count() == 2


def test_a_broken_file_loads_nothing_at_all(course, tmp_path):
    before = dump()
    edit(course / "02-second.md", "title: Second steps", "title: Second, renamed")
    edit(course / "01-first.questions.md", "Broker = waiting room.", "Changed.")
    broken = make_lesson(course, slug="broken", order=3, front={"impact": "huge"})

    with pytest.raises(ContentInvalid) as raised:
        content_load(root=tmp_path)

    assert [str(error) for error in raised.value.errors] == [
        f"{broken}:5: 'impact' must be one of low, medium, high, not 'huge'"
    ]
    assert dump() == before


def test_links_between_lesson_files_become_site_links(tmp_path):
    make_lesson(tmp_path / "course", slug="next-one", order=2)
    tips = "- Read [the next lesson](02-next-one.md) and [its tips](02-next-one.md#tips)."
    make_lesson(tmp_path / "course", slug="this-one", order=1, sections={"Tips": tips})
    content_load(root=tmp_path)

    html = sections_by_kind("this-one")["tips"]["parts"][0]["html"]
    assert 'href="/lessons/next-one/"' in html and 'href="/lessons/next-one/#tips"' in html
    assert ".md" not in html


def test_links_in_code_stay_as_written(tmp_path):
    make_lesson(tmp_path / "course", slug="next-one", order=2)
    tips = "- Write `[it](02-next-one.md)`.\n\n```markdown\n[it](02-next-one.md)\n```"
    make_lesson(tmp_path / "course", slug="this-one", order=1, sections={"Tips": tips})
    content_load(root=tmp_path)

    html = sections_by_kind("this-one")["tips"]["parts"][0]["html"]
    assert html.count("02-next-one.md") == 2 and "/lessons/next-one/" not in html


def test_links_in_questions_become_site_links(tmp_path):
    make_lesson(tmp_path / "course", slug="next-one", order=2)
    this = make_lesson(tmp_path / "course", slug="this-one", order=1)
    see = "See [the next lesson](02-next-one.md#tips)."
    make_questions(this, question_text(qid="linked", prompt=see, parts={"Solution": see}))
    content_load(root=tmp_path)

    version = shown_version("linked")
    for html in (version.prompt_html, version.solution_html):
        assert 'href="/lessons/next-one/#tips"' in html and ".md" not in html


def test_a_lab_block_is_a_part_of_its_own(tmp_path):
    check = "- Run it.\n\n```lab\nkind: ping\ngoal: finish-a-run\n```\n\nThen compare."
    make_lesson(tmp_path / "course", slug="with-lab", sections={"Check it yourself": check})
    content_load(root=tmp_path)

    parts = sections_by_kind("with-lab")["check"]["parts"]
    assert [part["type"] for part in parts] == ["html", "lab", "html"]
    assert parts[1] == {
        "type": "lab",
        "kind": "ping",
        "goal": "finish-a-run",
        # What the card shows, from the registry at load time: the page reads only this.
        "title": "Ping the worker",
        "summary": LAB_KINDS["ping"].summary,
        "url_name": "labs:ping",
        "goal_description": "Queue a task and watch a worker finish it.",
    }
    assert "Run it." in parts[0]["html"] and "Then compare." in parts[2]["html"]


def test_a_lab_without_a_goal_has_no_goal_description(tmp_path):
    check = "```lab\nkind: broker\n```"
    make_lesson(tmp_path / "course", slug="no-goal", sections={"Check it yourself": check})
    content_load(root=tmp_path)

    [part] = sections_by_kind("no-goal")["check"]["parts"]
    assert (part["goal"], part["goal_description"]) == ("", "")
    assert (part["title"], part["url_name"]) == ("Inside the broker", "labs:broker")


def test_a_lab_renamed_in_the_registry_is_picked_up_by_the_next_load(tmp_path, monkeypatch):
    check = "```lab\nkind: ping\ngoal: finish-a-run\n```"
    make_lesson(tmp_path / "course", slug="renamed-lab", sections={"Check it yourself": check})
    make_lesson(tmp_path / "course", slug="no-lab")
    content_load(root=tmp_path)

    ping = LAB_KINDS["ping"]
    goal = dataclasses.replace(ping.goals["finish-a-run"], description="Finish one run.")
    renamed = dataclasses.replace(ping, title="Ping!", goals={"finish-a-run": goal})
    monkeypatch.setitem(LAB_KINDS, "ping", renamed)
    report = content_load(root=tmp_path)

    assert (report.lessons_updated, report.lessons_unchanged) == (1, 1)
    assert report.changed == ["renamed-lab"]
    [part] = sections_by_kind("renamed-lab")["check"]["parts"]
    assert (part["title"], part["goal_description"]) == ("Ping!", "Finish one run.")


def test_a_lab_block_shown_as_code_stays_code(tmp_path):
    # How to write a lab block, shown inside a longer fence: an example, not a lab.
    tips = "- Write:\n\n````markdown\n```lab\nkind: ping\n```\n````"
    make_lesson(tmp_path / "course", slug="shows-lab", sections={"Tips": tips})
    content_load(root=tmp_path)

    parts = sections_by_kind("shows-lab")["tips"]["parts"]
    assert [part["type"] for part in parts] == ["html"]
    assert "kind: ping" in parts[0]["html"]


def test_cost_and_gain_lines_become_the_effect(tmp_path):
    make_lesson(tmp_path / "course", slug="effects")
    content_load(root=tmp_path)

    sections = sections_by_kind("effects")
    bad, good = sections["bad"]["parts"][0], sections["good"]["parts"][0]
    assert bad["effect"] == "the request waits for the mail server."
    assert good["effect"] == "the request returns at once."
    assert "Cost:" not in bad["html"] and 'class="highlight"' in bad["html"]
    assert "Gain:" not in good["html"]
    assert "effect" not in sections["concept"]["parts"][0]


def test_minutes_come_from_the_word_count_unless_given(tmp_path):
    make_lesson(tmp_path / "course", slug="short")
    make_lesson(tmp_path / "course", slug="long", sections={"Concept": "word " * 1000})
    make_lesson(tmp_path / "course", slug="given", front={"minutes": "12"})
    content_load(root=tmp_path)

    minutes = dict(Lesson.objects.values_list("slug", "minutes"))
    # 200 words a minute: the other sections add a few dozen words to the long one's 1000.
    assert minutes == {"short": 1, "long": 6, "given": 12}


def test_section_titles_keep_a_trailing_hash_that_is_part_of_them(tmp_path):
    make_lesson(tmp_path / "course", slug="csharp", sections={"Calling it from C#": "Words."})
    content_load(root=tmp_path)
    assert Lesson.objects.get(slug="csharp").sections[-1]["title"] == "Calling it from C#"


def test_problems_are_recorded_relative_to_the_root(tmp_path):
    lesson = make_lesson(tmp_path / "course", slug="faulty", order=1, front={"colour": "red"})
    make_questions(lesson, question_text(parts={"Hints": None}))
    _, errors = content_validate(root=tmp_path)

    content_problems_record(errors=errors, root=tmp_path)

    assert list(ContentProblem.objects.values_list("path", "line", "message")) == [
        ("course/01-faulty.md", 7, "unknown key 'colour' in the front matter: use one of slug, "
         "title, track, order, minutes, impact, summary, prerequisites"),
        ("course/01-faulty.questions.md", 1, "add a '### Hints' part to this question"),
    ]  # fmt: skip

    content_problems_record(errors=[], root=tmp_path)
    assert not ContentProblem.objects.exists()


def test_a_prediction_keeps_its_lab_and_outcomes_in_its_versions(tmp_path):
    options = {"0": "None.", "1": "One.", "2": "Two.", "3+": "Three or more."}
    lesson = make_lesson(tmp_path / "course", slug="predicting")
    questions = make_questions(
        lesson,
        predict_question_text(qid="how-many", lab="pubsub", options=options, expected="1"),
        question_text(qid="plain"),
    )
    content_load(root=tmp_path)

    question = Question.objects.get(key="how-many")
    version = question.current_version
    assert (question.sets, version.lab, version.observes) == (
        ["predict"], "pubsub", ["0", "1", "2", "3+"],
    )  # fmt: skip
    assert [option["correct"] for option in version.options] == [False, True, False, False]
    plain = Question.objects.get(key="plain").current_version
    assert (plain.lab, plain.observes) == ("", [])

    # Which outcome an option stands for is part of what the question says: a new version.
    edit(questions, 'observes: ["0", "1", "2", "3+"]', 'observes: ["0", "1", "3+", "2"]')
    report = content_load(root=tmp_path)
    assert report.question_versions_created == 1
    question.refresh_from_db()
    assert (question.current_version.number, question.current_version.observes) == (
        2, ["0", "1", "3+", "2"],
    )  # fmt: skip
    assert question.versions.get(number=1).observes == ["0", "1", "2", "3+"]
