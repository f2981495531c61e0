"""One test per content rule: a small course broken in one place reports that place and what to
change, as ``file:line: message``; a few go through ``manage.py content_check`` itself."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from authoring.content import content_validate
from labs.registry import LAB_KINDS

from .factory import (
    line_of,
    make_course,
    make_lesson,
    make_questions,
    predict_question_text,
    question_text,
)

REPO = Path(__file__).resolve().parents[2]


def errors_in(root: Path) -> list[str]:
    _, errors = content_validate(root=root)
    return [str(error) for error in errors]


def only_error(root: Path) -> str:
    errors = errors_in(root)
    assert len(errors) == 1, errors
    return errors[0]


def content_check(path: Path, var_dir: Path) -> subprocess.CompletedProcess:
    """``manage.py content_check`` run as an author runs it, with the default settings."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "manage.py", "content_check", str(path)],
        cwd=REPO,
        env=env | {"LEARNSITE_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_valid_course_has_no_errors(tmp_path):
    first = make_lesson(tmp_path / "course", slug="first", order=1)
    make_questions(first, question_text(), question_text(meta={"type": "multiple"}))
    make_lesson(tmp_path / "course", order=2, front={"prerequisites": "[first]", "minutes": "7"})
    assert errors_in(tmp_path) == []


def test_the_examples_in_the_authoring_guide_pass(tmp_path):
    guide = (REPO / "content" / "README.md").read_text()
    examples = re.findall(r"^````markdown\n(.*?)^````$", guide, flags=re.DOTALL | re.MULTILINE)
    course_yaml = re.search(r"^```yaml\n(title:.*?)^```$", guide, flags=re.DOTALL | re.MULTILINE)
    (lesson,) = [text for text in examples if text.startswith("---\n")]
    (question,) = [text for text in examples if text.startswith("## ")]
    folder = make_course(tmp_path / "course", text=course_yaml.group(1))
    (folder / "01-example.md").write_text(lesson)
    (folder / "01-example.questions.md").write_text(question)

    courses, errors = content_validate(root=tmp_path)
    assert [str(error) for error in errors] == []
    assert [len(lesson.questions) for lesson in courses[0].lessons] == [1]


def test_the_authoring_guide_lists_every_lab_and_its_goals():
    guide = (REPO / "content" / "README.md").read_text()
    table = guide.split("| Kind | Title | What the learner does | Goals |")[1].split("\n\n")[0]
    rows = re.findall(r"^\| `([\w-]+)` \| [^|]+ \| [^|]+ \| ([^|]+) \|$", table, flags=re.MULTILINE)
    listed = {kind: set(re.findall(r"`([\w-]+)`", goals)) for kind, goals in rows}
    assert listed == {kind: set(lab.goals) for kind, lab in LAB_KINDS.items()}


# The command: its exit status and output, once for each kind of file.


def test_content_check_passes_a_valid_course(tmp_path):
    lesson = make_lesson(tmp_path / "content" / "course")
    make_questions(lesson, question_text(), question_text())

    result = content_check(tmp_path / "content", tmp_path / "var")
    assert result.returncode == 0, result.stderr
    assert "1 course(s), 1 lesson(s), 2 question(s), no errors" in result.stdout


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("course.yaml", "title: [unclosed\norder: 1\n", 2, "fix the course file:"),
        ("course.yaml", "title: A course\ncolour: red\n", 2, "unknown key 'colour'"),
        ("01-lesson.md", "## Concept\n\nNo front matter.\n", 1, "start the file with a '---'"),
    ],
)
def test_content_check_fails_on_a_broken_file(tmp_path, name, text, line, message):
    folder = make_course(tmp_path / "content" / "course")
    (folder / name).write_text(text)

    result = content_check(tmp_path / "content", tmp_path / "var")
    assert result.returncode != 0
    assert f"{folder / name}:{line}: {message}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_content_check_fails_on_a_broken_question(tmp_path):
    lesson = make_lesson(tmp_path / "content" / "course")
    questions = make_questions(lesson, question_text(parts={"Hints": None}))

    result = content_check(tmp_path / "content", tmp_path / "var")
    assert result.returncode != 0
    line = line_of(questions, "## ")
    assert f"{questions}:{line}: add a '### Hints' part to this question" in result.stderr
    assert "1 error(s)" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_content_check_fails_on_a_missing_folder(tmp_path):
    result = content_check(tmp_path / "nowhere", tmp_path / "var")
    assert result.returncode != 0
    assert f"{tmp_path / 'nowhere'}:1: no such folder" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# Front matter: its frame, its keys and their values.


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("## Concept\n\nWords.\n", 1, "start the file with a '---' line, then front matter"),
        ("", 1, "start the file with a '---' line, then front matter"),
        ("---\nslug: open\ntitle: Never closed\n", 1, "close the front matter with a second"),
        ("---\n- slug\n- title\n---\n", 2, "write the front matter as 'key: value' lines"),
        ("---\nslug: a\ntitle: [unclosed\norder: 1\n---\n", 4, "fix the front matter: expected"),
        ("---\nslug: a\ntitle: a: b\n---\n", 3, "fix the front matter: mapping values are not"),
        ("---\nslug: a\nwhen: 2001-13-45\n---\n", 2, "fix the front matter: month must be"),
        ("---\nslug: a\ncount: !!int\n---\n", 2, "fix the front matter:"),
        ("---\nslug: [" + "[" * 5000 + "\n---\n", 2, "fix the front matter: it nests too deeply"),
    ],
)
def test_a_broken_front_matter_frame(tmp_path, text, line, message):
    path = make_course(tmp_path / "course") / "01-broken.md"
    path.write_text(text)
    assert only_error(tmp_path).startswith(f"{path}:{line}: {message}")


@pytest.mark.parametrize(
    ("front", "key", "message"),
    [
        ({"colour": "red"}, "colour", "unknown key 'colour' in the front matter: use one of slug,"),
        ({"order": '"one"'}, "order", "'order' must be a whole number, not 'one'"),
        ({"order": "true"}, "order", "'order' must be a whole number, not True"),
        ({"order": "0"}, "order", "'order' must be 1 or more"),
        ({"minutes": "yes"}, "minutes", "'minutes' must be a whole number, not True"),
        ({"minutes": "0"}, "minutes", "'minutes' must be 1 or more"),
        ({"title": "[a, b]"}, "title", "'title' must be a text, not ['a', 'b']"),
        ({"summary": "12"}, "summary", "'summary' must be a text, not 12"),
        ({"prerequisites": "first"}, "prerequisites", "'prerequisites' must be a list, not"),
        ({"impact": "huge"}, "impact", "'impact' must be one of low, medium, high, not 'huge'"),
        ({"slug": "Bad_Slug"}, "slug", "'slug' must be lowercase words joined by '-'"),
        ({"slug": "trailing-"}, "slug", "'slug' must be lowercase words joined by '-'"),
        ({"prerequisites": "[nowhere]"}, "prerequisites", "prerequisite 'nowhere' is not the"),
        ({"prerequisites": "[[a]]"}, "prerequisites", "prerequisite ['a'] is not the slug"),
    ],
)
def test_a_wrong_front_matter_key(tmp_path, front, key, message):
    path = make_lesson(tmp_path / "course", front=front)
    assert only_error(tmp_path).startswith(f"{path}:{line_of(path, key + ':')}: {message}")


@pytest.mark.parametrize("key", ["slug", "title", "order", "impact", "summary"])
def test_a_missing_front_matter_key(tmp_path, key):
    path = make_lesson(tmp_path / "course", front={key: None})
    assert only_error(tmp_path) == f"{path}:2: add '{key}:' to the front matter"


def test_a_value_too_big_to_print_is_cut_short(tmp_path):
    # Nine aliases of nine make 9**9 strings from a few lines: the message must not print them.
    levels = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'] + [
        f"&a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, 9)
    ]
    path = make_lesson(tmp_path / "course", front={"order": f"[{', '.join(levels)}, *a8]"})
    error = only_error(tmp_path)
    assert error.startswith(f"{path}:{line_of(path, 'order:')}: 'order' must be a whole number")
    assert len(error) < 500


def test_the_same_slug_in_two_courses(tmp_path):
    first = make_lesson(tmp_path / "a-course", slug="same")
    second = make_lesson(tmp_path / "b-course", slug="same")
    assert only_error(tmp_path) == (
        f"{second}:2: slug 'same' is already used by {first}: choose another"
    )


def test_the_same_order_twice_in_a_course(tmp_path):
    make_lesson(tmp_path / "course", slug="alpha", order=3)
    second = make_lesson(tmp_path / "course", slug="beta", order=3)
    assert only_error(tmp_path) == (
        f"{second}:{line_of(second, 'order:')}: 'order: 3' is also the order of 03-alpha.md: "
        "make each unique"
    )


def test_the_same_order_in_two_courses_is_fine(tmp_path):
    make_lesson(tmp_path / "a-course", order=1)
    make_lesson(tmp_path / "b-course", order=1)
    assert errors_in(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("summary: No title.\n", 1, "add 'title:' to the course file"),
        ("title: T\norder: first\n", 2, "'order' must be a whole number, not 'first'"),
        ("- title\n", 1, "write the course file as 'key: value' lines"),
        (
            "title: T\nsummary: a: b\n",
            2,
            "fix the course file: mapping values are not allowed here",
        ),
    ],
)
def test_a_broken_course_file(tmp_path, text, line, message):
    folder = make_course(tmp_path / "course", text=text)
    make_lesson(folder)
    assert only_error(tmp_path) == f"{folder / 'course.yaml'}:{line}: {message}"


# Sections.

SECTION_TITLES = [
    "Concept", "Bad pattern", "Good pattern", "Comparison", "Bottleneck", "Tips",
    "Check it yourself",
]  # fmt: skip


@pytest.mark.parametrize("title", SECTION_TITLES)
def test_a_missing_section(tmp_path, title):
    path = make_lesson(tmp_path / "course", sections={title: None})
    assert only_error(tmp_path) == f"{path}:1: add a '## {title}' section"


@pytest.mark.parametrize("title", SECTION_TITLES)
def test_an_empty_section(tmp_path, title):
    path = make_lesson(tmp_path / "course", sections={title: ""})
    message = f"{path}:{line_of(path, '## ' + title)}: '## {title}' is empty: write it"
    assert message in errors_in(tmp_path)


def test_a_section_title_is_matched_without_case_or_closing_hashes(tmp_path):
    sections = {"Concept": None, "Tips": None, "concept ##": "Words.", "TIPS": "- Tip."}
    make_lesson(tmp_path / "course", sections=sections)
    assert errors_in(tmp_path) == []


def test_a_section_twice(tmp_path):
    path = make_lesson(tmp_path / "course", sections={"Tips": "- One.\n\n## concept\n\nAgain."})
    first, second = line_of(path, "## Concept"), line_of(path, "## concept")
    assert only_error(tmp_path) == (
        f"{path}:{second}: '## concept' appears twice (first at line {first}): merge them"
    )


def test_an_unknown_section_is_kept_as_text(tmp_path):
    make_lesson(tmp_path / "course", sections={"Further reading": "- The Celery docs."})
    assert errors_in(tmp_path) == []


@pytest.mark.parametrize(
    ("title", "text", "message"),
    [
        ("Bad pattern", "Words only.\n\nCost: slow.", "needs a code block showing the pattern"),
        ("Bad pattern", "```python\nx = 1\n```", "needs a line starting 'Cost:'"),
        ("Bad pattern", "```python\nx = 1\n```\n\nGain: wrong label.", "needs a line starting"),
        ("Good pattern", "Words only.\n\nGain: fast.", "needs a code block showing the pattern"),
        ("Good pattern", "```python\nx = 1\n```", "needs a line starting 'Gain:'"),
        ("Comparison", "Tasks are faster.", "needs a table ('| Pattern | ... |' lines)"),
    ],
)
def test_a_section_without_what_it_must_hold(tmp_path, title, text, message):
    path = make_lesson(tmp_path / "course", sections={title: text})
    assert only_error(tmp_path).startswith(
        f"{path}:{line_of(path, '## ' + title)}: '## {title}' {message}"
    )


# Blocks inside a lesson.


@pytest.mark.parametrize(
    ("block", "needle", "message"),
    [
        ("```lab\nkind: teleport\n```", "kind:", "unknown lab kind 'teleport': use one of ping"),
        ("```lab\ngoal: Watch.\nkind: teleport\n```", "kind:", "unknown lab kind 'teleport'"),
        ("```lab\ngoal: Watch it.\n```", "```lab", "add 'kind:' to the lab block"),
        ("```lab\n```", "```lab", "write the lab block as 'kind: <lab>'"),
        ("```lab\n- ping\n```", "```lab", "write the lab block as 'kind: <lab>'"),
        ("```lab\nkind: [ping\n```", "```lab", "write the lab block as 'kind: <lab>'"),
        ("```lab\nkind: ping\ncolour: red\n```", "colour:", "unknown key 'colour' in the lab"),
        (
            "```lab\nkind: ping\ngoal: fly\n```",
            "goal:",
            "the ping lab has no goal 'fly': its goals are finish-a-run",
        ),
        ("```lab\nkind: 3\n```", "kind:", "'kind' must be a text, not 3"),
        ("```question\nid: here\n```", "```question", "questions go in 01-"),
    ],
)
def test_a_broken_block_in_a_lesson(tmp_path, block, needle, message):
    path = make_lesson(tmp_path / "course", order=1, sections={"Check it yourself": block})
    assert only_error(tmp_path).startswith(f"{path}:{line_of(path, needle)}: {message}")


@pytest.mark.parametrize(
    ("block", "needle", "message"),
    [
        ("```python\nx = 1\ndef broken(:\n    pass\n```", "def broken", "python block does not"),
        ("```py\nprint('a'\n```", "print(", "py block does not parse"),
        ('```json\n{\n  "a": 1\n  "b": 2\n}\n```', '"b"', "json block does not parse"),
        ("```yaml\na: 1\nb: c: d\n```", "b: c", "yaml block does not parse"),
        ("```yml\n- a\n- [b\n```", "- [b", "yml block does not parse"),
        ("```yaml\nwhen: 2001-13-45\n```", "when:", "yaml block does not parse"),
    ],
)
def test_code_that_does_not_parse(tmp_path, block, needle, message):
    path = make_lesson(tmp_path / "course", sections={"Tips": block})
    assert only_error(tmp_path).startswith(f"{path}:{line_of(path, needle)}: this {message}")


def test_code_in_other_languages_is_not_parsed(tmp_path):
    block = "```text\ndef broken(:\n```\n\n```\n{not: json\n```\n\n```sh\nif then fi\n```"
    make_lesson(tmp_path / "course", sections={"Tips": block})
    assert errors_in(tmp_path) == []


def test_prerequisites_in_a_loop(tmp_path):
    first = make_lesson(tmp_path / "course", slug="first", front={"prerequisites": "[third]"})
    second = make_lesson(tmp_path / "course", slug="second", front={"prerequisites": "[first]"})
    third = make_lesson(tmp_path / "course", slug="third", front={"prerequisites": "[second]"})
    make_lesson(tmp_path / "course", slug="outside", front={"prerequisites": "[first]"})
    assert errors_in(tmp_path) == [
        f"{first}:{line_of(first, 'prerequisites')}: the prerequisites go round in a loop: "
        "first → third → second → first: break it",
        f"{second}:{line_of(second, 'prerequisites')}: the prerequisites go round in a loop: "
        "second → first → third → second: break it",
        f"{third}:{line_of(third, 'prerequisites')}: the prerequisites go round in a loop: "
        "third → second → first → third: break it",
    ]


def test_a_lesson_that_needs_itself(tmp_path):
    path = make_lesson(tmp_path / "course", slug="selfish", front={"prerequisites": "[selfish]"})
    assert only_error(tmp_path).endswith("loop: selfish → selfish: break it")
    assert only_error(tmp_path).startswith(f"{path}:{line_of(path, 'prerequisites')}:")


# Links.


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("/lessons/nowhere/", "broken link /lessons/nowhere/: no lesson has the slug 'nowhere'"),
        ("/lessons/nowhere/#tips", "broken link /lessons/nowhere/: no lesson has the slug"),
        ("/labs/teleport/", "broken link /labs/teleport/: labs are /labs/ping/"),
        ("missing.md", "broken link missing.md: no lesson file of that name next to this lesson"),
        ("missing.md#tips", "broken link missing.md: no lesson file of that name"),
        # Files that exist but are no lesson: they would be broken links on the site.
        ("01-first.questions.md", "broken link 01-first.questions.md: no lesson file"),
        ("README.md", "broken link README.md: no lesson file of that name"),
        ("../course/01-first.md", "broken link ../course/01-first.md: no lesson file"),
    ],
)
def test_a_broken_link(tmp_path, link, message):
    first = make_lesson(tmp_path / "course", slug="first", order=1)
    make_questions(first)
    (tmp_path / "course" / "README.md").write_text("Notes for authors, not a lesson.\n")
    path = make_lesson(tmp_path / "course", order=2, sections={"Tips": f"- See [this]({link})."})
    assert only_error(tmp_path).startswith(f"{path}:{line_of(path, '[this]')}: {message}")


def test_a_broken_link_in_a_questions_file(tmp_path):
    lesson = make_lesson(tmp_path / "course")
    hints = "- Look again.\n- See [the other lesson](02-gone.md)."
    path = make_questions(lesson, question_text(), question_text(parts={"Hints": hints}))
    assert only_error(tmp_path).startswith(
        f"{path}:{line_of(path, '[the other')}: broken link 02-gone.md: no lesson file"
    )


def test_a_broken_link_before_the_first_section(tmp_path):
    path = make_lesson(tmp_path / "course")
    path.write_text(
        path.read_text().replace("## Concept", "Read [this](gone.md) first.\n\n## Concept")
    )
    assert only_error(tmp_path).startswith(f"{path}:{line_of(path, '[this]')}: broken link gone.md")


def test_links_that_work_and_links_in_code_are_fine(tmp_path):
    make_lesson(tmp_path / "course", slug="first", order=1)
    text = (
        "- [Next](/lessons/first/), [again](/lessons/first/#tips), [file](01-first.md#tips)\n"
        "- [Lab](/labs/ping/), [elsewhere](https://example.com/guide.md), ![img](pic.md)\n"
        "- [text [with] brackets](01-first.md), `[in code](nope.md)`\n\n"
        "```markdown\n[in a block](/lessons/nowhere/)\n```"
    )
    make_lesson(tmp_path / "course", order=2, sections={"Tips": text})
    assert errors_in(tmp_path) == []


# Questions.


@pytest.mark.parametrize(
    ("meta", "needle", "message"),
    [
        ({"colour": "red"}, "colour:", "unknown key 'colour' in the question block: use one of"),
        ({"difficulty": "extreme"}, "difficulty:", "'difficulty' must be one of easy, medium,"),
        ({"type": "essay"}, "type:", "'type' must be one of single, multiple, not 'essay'"),
        ({"id": "Bad_Id"}, "id:", "'id' must be lowercase words joined by '-'"),
        ({"id": "7"}, "id:", "'id' must be a text, not 7"),
        ({"sets": "[quiz, exam]"}, "sets:", "'sets' may hold quiz, practice, predict, not"),
        ({"sets": "quiz"}, "sets:", "'sets' must be a list, not 'quiz'"),
        ({"partial_credit": "true"}, "partial_credit:", "'partial_credit' only applies to 'type:"),
        ({"partial_credit": "1", "type": "multiple"}, "partial_credit:", "'partial_credit' must"),
        ({"difficulty": "a: b"}, "difficulty:", "fix the question block: mapping values are not"),
        ({"sets": "[quiz"}, "sets:", "fix the question block: expected ',' or ']'"),
    ],
)
def test_a_wrong_question_block(tmp_path, meta, needle, message):
    questions = make_questions(make_lesson(tmp_path / "course"), question_text(meta=meta))
    assert only_error(tmp_path).startswith(f"{questions}:{line_of(questions, needle)}: {message}")


@pytest.mark.parametrize("key", ["id", "difficulty", "type"])
def test_a_missing_question_key(tmp_path, key):
    questions = make_questions(make_lesson(tmp_path / "course"), question_text(meta={key: None}))
    line = line_of(questions, "```question") + 1  # the block's first line
    assert only_error(tmp_path) == f"{questions}:{line}: add '{key}:' to the question block"


def test_a_question_without_its_block(tmp_path):
    text = question_text().replace("```question", "```text")
    questions = make_questions(make_lesson(tmp_path / "course"), text)
    assert only_error(tmp_path).startswith(
        f"{questions}:{line_of(questions, '## ')}: add a ```question block with its id"
    )


def test_a_questions_file_without_questions(tmp_path):
    questions = make_questions(make_lesson(tmp_path / "course"), "Some words, no heading.\n")
    assert only_error(tmp_path) == (f"{questions}:1: start each question with a '## ' heading")


def test_a_multiple_answer_question_may_have_partial_credit(tmp_path):
    options = "- [x] One.\n- [x] Two.\n- [ ] Three.\n"
    meta = {"type": "multiple", "partial_credit": "true"}
    make_questions(make_lesson(tmp_path / "course"), question_text(meta=meta, options=options))
    assert errors_in(tmp_path) == []


@pytest.mark.parametrize(
    ("options", "needle", "message"),
    [
        ("- [x] The only one.\n", "## ", "give at least two options as a task list"),
        ("", "## ", "give at least two options as a task list"),
        ("- [ ] Wrong.\n- [ ] Also wrong.\n", "Wrong.", "no option is marked correct"),
        ("- [x] Right.\n- [X] Also right.\n", "Also right", "a single-answer question has two"),
        ("- [x] Same.\n  > Yes.\n- [ ] Same.\n", "[ ] Same", "this option repeats the one at line"),
        ("- [x] Right.\n- [ ] \n", "[ ] ", "this option has no text"),
        ("- [x] Right.\n- [ ] Wrong.\nStray words.\n", "Stray", "after the options, write only"),
    ],
)
def test_wrong_options(tmp_path, options, needle, message):
    text = question_text(options=options) if options else question_text(options=" ")
    questions = make_questions(make_lesson(tmp_path / "course"), text)
    assert only_error(tmp_path).startswith(f"{questions}:{line_of(questions, needle)}: {message}")


def test_an_option_wrapped_onto_a_second_line_is_refused(tmp_path):
    options = (
        "- [ ] A wrong answer.\n  > No.\n"
        "- [x] It holds one thread of the web process until the mail\n"
        "  server replies.\n"
        "  > Yes: the send waits for the server.\n"
    )
    questions = make_questions(make_lesson(tmp_path / "course"), question_text(options=options))
    line = line_of(questions, "until the mail")
    assert only_error(tmp_path) == (
        f"{questions}:{line}: option (b) goes on to line {line + 1}: write an option on one "
        "line, however long, and start its feedback with '> ' (as in '  > Yes: ...')"
    )


def test_unmarked_feedback_is_refused_as_a_wrapped_option(tmp_path):
    options = "- [x] Right.\n  Yes.\n- [ ] Wrong.\n  No: it is\n  something else.\n"
    questions = make_questions(make_lesson(tmp_path / "course"), question_text(options=options))
    assert errors_in(tmp_path) == [
        f"{questions}:{line_of(questions, 'Right.')}: option (a) goes on to line "
        f"{line_of(questions, 'Yes.')}: write an option on one line, however long, and start "
        "its feedback with '> ' (as in '  > Yes: ...')",
        f"{questions}:{line_of(questions, 'Wrong.')}: option (b) goes on to line "
        f"{line_of(questions, 'No: it is')}: write an option on one line, however long, and "
        "start its feedback with '> ' (as in '  > Yes: ...')",
    ]


def test_marked_feedback_may_go_on_over_several_lines(tmp_path):
    options = (
        "- [x] A long right answer, written on one line however long it is.\n"
        "  > Yes: the first line of its feedback,\n"
        "  > and the second.\n"
        "\n"
        "  > A second paragraph.\n"
        "- [ ] Wrong.\n"
        "  > No.\n"
        "  it goes on without the marker, as markdown allows.\n"
        "- [ ] Also wrong, with no feedback.\n"
    )
    make_questions(make_lesson(tmp_path / "course"), question_text(options=options))
    courses, errors = content_validate(root=tmp_path)
    assert [str(error) for error in errors] == []
    [question] = courses[0].lessons[0].questions
    assert [(option.text, option.feedback) for option in question.options] == [
        (
            "A long right answer, written on one line however long it is.",
            "Yes: the first line of its feedback,\nand the second.\n\nA second paragraph.",
        ),
        ("Wrong.", "No.\nit goes on without the marker, as markdown allows."),
        ("Also wrong, with no feedback.", ""),
    ]


@pytest.mark.parametrize("part", ["Solution", "Quick check", "Hints", "Common mistakes"])
def test_a_missing_part(tmp_path, part):
    questions = make_questions(make_lesson(tmp_path / "course"), question_text(parts={part: None}))
    assert only_error(tmp_path) == (
        f"{questions}:{line_of(questions, '## ')}: add a '### {part}' part to this question"
    )


@pytest.mark.parametrize("part", ["Solution", "Quick check", "Hints", "Common mistakes"])
def test_an_empty_part(tmp_path, part):
    questions = make_questions(make_lesson(tmp_path / "course"), question_text(parts={part: ""}))
    line = line_of(questions, f"### {part}")
    assert only_error(tmp_path) == f"{questions}:{line}: '### {part}' is empty: write it"


def test_an_unknown_part(tmp_path):
    text = question_text(parts={"Trivia": "Redis was written in C."})
    questions = make_questions(make_lesson(tmp_path / "course"), text)
    assert only_error(tmp_path).startswith(
        f"{questions}:{line_of(questions, '### Trivia')}: unknown part '### Trivia': use"
    )


def test_code_in_a_question_must_parse(tmp_path):
    text = question_text(parts={"Solution": "```python\nqueue.delay(\n```"})
    questions = make_questions(make_lesson(tmp_path / "course"), text)
    assert only_error(tmp_path).startswith(
        f"{questions}:{line_of(questions, 'queue.delay(')}: this python block does not parse"
    )


def test_the_same_question_id_in_two_lessons(tmp_path):
    first = make_questions(make_lesson(tmp_path / "course", order=1), question_text(qid="same"))
    second = make_questions(make_lesson(tmp_path / "course", order=2), question_text(qid="same"))
    assert only_error(tmp_path) == (
        f"{second}:{line_of(second, 'id:')}: question id 'same' is already used at "
        f"{first}:{line_of(first, '## ')}"
    )


def test_the_same_question_id_twice_in_a_file(tmp_path):
    lesson = make_lesson(tmp_path / "course")
    questions = make_questions(lesson, question_text(qid="twice"), question_text(qid="twice"))
    second_id = questions.read_text().splitlines().index("id: twice", line_of(questions, "id:"))
    assert only_error(tmp_path).startswith(
        f"{questions}:{second_id + 1}: question id 'twice' is already used at"
    )


def test_questions_without_their_lesson(tmp_path):
    make_lesson(tmp_path / "course", slug="kept", order=1)
    orphan = tmp_path / "course" / "02-renamed.questions.md"
    orphan.write_text(question_text())
    assert only_error(tmp_path) == (
        f"{orphan}:1: no lesson file 02-renamed.md for these questions: rename one to match"
    )


# A lab's prediction: 'sets: [predict]' with 'lab' and 'observes'.

PUBSUB_OPTIONS = {"0": "None.", "1": "One.", "2": "Two.", "3+": "Three or more."}


def test_a_prediction_question_is_valid(tmp_path):
    text = predict_question_text(lab="pubsub", options=PUBSUB_OPTIONS, expected="1")
    make_questions(make_lesson(tmp_path / "course"), text)
    assert errors_in(tmp_path) == []


@pytest.mark.parametrize(
    ("meta", "needle", "message"),
    [
        (
            {"lab": "nope"},
            "lab:",
            # Every lab that asks predictions, in the registry's order.
            f"'lab' must be a lab that asks predictions "
            f"({', '.join(kind for kind, lab in LAB_KINDS.items() if lab.outcomes)}), not 'nope'",
        ),
        ({"lab": None}, "id:", "a 'predict' question needs 'lab:'"),
        ({"observes": None}, "id:", "a 'predict' question needs 'observes:'"),
        ({"observes": '["0", "1", "2"]'}, "observes:", "'observes' needs one outcome per option"),
        ({"observes": '["0", "1", "2", "9"]'}, "observes:", "'pubsub' has no outcome '9': use"),
        ({"observes": '[0, "1", "2", "3+"]'}, "observes:", "each outcome in 'observes' is text"),
        ({"type": "multiple"}, "type:", "a 'predict' question takes one answer"),
    ],
)
def test_a_wrong_prediction(tmp_path, meta, needle, message):
    text = predict_question_text(lab="pubsub", options=PUBSUB_OPTIONS, expected="1", meta=meta)
    questions = make_questions(make_lesson(tmp_path / "course"), text)
    assert only_error(tmp_path).startswith(f"{questions}:{line_of(questions, needle)}: {message}")


def test_a_prediction_marks_exactly_one_expected_outcome(tmp_path):
    text = predict_question_text(lab="pubsub", options=PUBSUB_OPTIONS, expected="1")
    questions = make_questions(
        make_lesson(tmp_path / "course"), text.replace("- [ ] Two.", "- [x] Two.")
    )
    message = "a single-answer question has two options marked '- [x]'"
    assert only_error(tmp_path).startswith(f"{questions}:{line_of(questions, 'Two.')}: {message}")


@pytest.mark.parametrize("key", ["lab", "observes"])
def test_lab_and_observes_belong_to_a_prediction(tmp_path, key):
    meta = {"lab": "listen", "observes": '["all", "none"]'}
    questions = make_questions(
        make_lesson(tmp_path / "course"), question_text(meta={key: meta[key]})
    )
    message = f"'{key}' is for a prediction: add 'predict' to 'sets', or remove it"
    assert only_error(tmp_path) == f"{questions}:{line_of(questions, key + ':')}: {message}"
