"""Runnable examples: the rules content_check applies, and the runner that proves each one prints
what the course says (against a real redis-server, and a real Celery worker for `run worker`)."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from authoring.content import content_validate
from authoring.examples import example_check, examples_find, output_matches
from lessons.markdown import markdown_render

from .factory import LESSON_SECTIONS, line_of, make_lesson, make_questions, question_text

PUBLISH = (
    "```python run\nimport os\n\nimport redis\n\n"
    'r = redis.Redis.from_url(os.environ["REDIS_URL"])\n'
    'r.rpush("jobs", "a", "b")\nprint(r.publish("updates", "hi"), r.lrange("jobs", 0, -1))\n```'
)
CELERY = """```python run worker
import os

from celery import Celery

app = Celery("tasks", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])


@app.task
def add(x, y):
    return x + y


if __name__ == "__main__":
    result = add.delay(2, 3)
    print(result.get(timeout=10), result.state)
```"""


def good_pattern(example: str, output: str) -> dict:
    return {"Good pattern": f"{LESSON_SECTIONS['Good pattern']}\n\n{example}\n\n{output}"}


def found(folder: Path) -> list:
    courses, errors = content_validate(root=folder.parent)
    assert errors == []
    return examples_find(courses)


def test_a_lesson_example_that_prints_what_the_lesson_says_passes(tmp_path):
    make_lesson(tmp_path / "c", sections=good_pattern(PUBLISH, "```output\n0 [b'a', b'b']\n```"))
    [example] = found(tmp_path / "c")
    assert example_check(example) is None


def test_each_example_gets_a_fresh_redis(tmp_path):
    """The same example twice: a Redis shared between runs would hold four jobs the second time."""
    example = "```output\n0 [b'a', b'b']\n```"
    lesson = make_lesson(tmp_path / "c", sections={"Tips": f"{PUBLISH}\n\n{example}"}
                         | good_pattern(PUBLISH, example))  # fmt: skip
    examples = found(lesson.parent)
    assert len(examples) == 2
    assert [example_check(example) for example in examples] == [None, None]


def test_a_wrong_output_is_reported_with_what_it_printed(tmp_path):
    lesson = make_lesson(tmp_path / "c", sections=good_pattern(PUBLISH, "```output\n1 []\n```"))
    [example] = found(lesson.parent)
    assert example.line == line_of(lesson, "```python run")
    problem = example_check(example)
    assert "it printed:\n0 [b'a', b'b']" in problem
    assert "the lesson says:\n1 []" in problem


def test_a_failing_example_shows_its_error(tmp_path):
    broken = "```python run\nraise SystemExit('no Redis here')\n```"
    make_lesson(tmp_path / "c", sections=good_pattern(broken, "```output\n\n```"))
    [example] = found(tmp_path / "c")
    assert "exited with status 1:\nno Redis here" in example_check(example)


def test_a_celery_example_runs_with_a_real_worker(tmp_path):
    make_lesson(tmp_path / "c", sections=good_pattern(CELERY, "```output\n5 SUCCESS\n```"))
    [example] = found(tmp_path / "c")
    assert example.with_worker
    assert example_check(example) is None


def test_without_the_worker_flag_nothing_runs_the_task(tmp_path):
    """The worker really does the work: the same program with no worker times out waiting."""
    no_worker = CELERY.replace("run worker", "run").replace("timeout=10", "timeout=2")
    make_lesson(tmp_path / "c", sections=good_pattern(no_worker, "```output\n5 SUCCESS\n```"))
    [example] = found(tmp_path / "c")
    assert "TimeoutError" in example_check(example)


def test_a_snippet_question_is_checked_against_its_right_option(tmp_path):
    lesson = make_lesson(tmp_path / "c")
    options = "- [ ] `1 []`\n  > No.\n- [x] `0 [b'a', b'b']`\n  > Yes.\n- [ ] `0 []`\n  > No.\n"
    make_questions(lesson, question_text(prompt=PUBLISH, options=options))
    [example] = found(lesson.parent)
    assert example.right_answer == "0 [b'a', b'b']"
    assert example_check(example) is None


def test_a_snippet_question_whose_right_option_is_wrong_fails(tmp_path):
    lesson = make_lesson(tmp_path / "c")
    options = "- [x] `1 []`\n  > No.\n- [ ] `0 [b'a', b'b']`\n  > Yes.\n"
    make_questions(lesson, question_text(prompt=PUBLISH, options=options))
    [example] = found(lesson.parent)
    assert example_check(example) == "it printed `0 [b'a', b'b']`, but the right option is `1 []`"


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ("took ... ms\ndone", "took 12.5 ms\ndone\n", True),
        ("a\n...\nz", "a\nb\nc\nz", True),
        ("done  \n", "done", True),
        ("done", "Done", False),
        ("1\n2", "1\n2\n3", False),
    ],
)
def test_output_matching(expected, actual, matches):
    assert output_matches(expected=expected, actual=actual) is matches


@pytest.mark.parametrize(
    ("section", "needle", "message"),
    [
        (f"{PUBLISH}\n\nIt prints:\n\n```output\n0\n```", "```python run",
         "follow this runnable example directly with an ```output block"),
        (PUBLISH, "```python run", "follow this runnable example directly"),
        ("```output\n0\n```", "```output", "put it right after a ```python run block"),
        ("```python running\nx = 1\n```", "```python running",
         "unknown word 'running' after ```python"),
        ("```sh run\nls\n```", "```sh run", "only python blocks run"),
        ("```python worker\nx = 1\n```", "```python worker", "only python blocks run"),
    ],
)  # fmt: skip
def test_runnable_block_rules(tmp_path, section, needle, message):
    lesson = make_lesson(tmp_path / "c", sections={"Tips": f"- Tip.\n\n{section}"})
    _, errors = content_validate(root=tmp_path)
    assert [(e.path, e.line) for e in errors if message in e.message] == [
        (lesson, line_of(lesson, needle))
    ]


@pytest.mark.parametrize(
    ("prompt", "options", "meta", "needle", "message"),
    [
        (f"{PUBLISH}\n\n```output\n0\n```", "", {}, "```output", "has no ```output block"),
        (PUBLISH, "- [x] zero\n  > Yes.\n- [ ] one\n  > No.\n", {}, "- [x] zero",
         "write the right option as the exact output in backticks"),
        (PUBLISH, "- [x] `0`\n  > Yes.\n- [x] `1`\n  > No.\n", {"type": "multiple"},
         "```python run", "is 'type: single'"),
    ],
)  # fmt: skip
def test_snippet_question_rules(tmp_path, prompt, options, meta, needle, message):
    lesson = make_lesson(tmp_path / "c")
    questions = make_questions(lesson, question_text(prompt=prompt, options=options, meta=meta))
    _, errors = content_validate(root=tmp_path)
    assert [(e.path, e.line) for e in errors if message in e.message] == [
        (questions, line_of(questions, needle))
    ]


def test_a_runnable_example_is_shown_with_how_to_run_it():
    html = markdown_render(f"Text\n\n{CELERY}\n\n```output\n5 SUCCESS\n```\n")
    assert "start a worker with <code>celery -A tasks worker</code>" in html
    assert "It prints:" in html
    assert "run worker" not in html
    assert '<span class="n">app</span>' in html  # still highlighted as Python


def test_the_command_reports_each_failure_and_exits_with_an_error(tmp_path, capsys):
    good = make_lesson(tmp_path / "c", sections=good_pattern(PUBLISH, "```output\n0 [...]\n```"))
    bad = make_lesson(tmp_path / "c", sections=good_pattern(PUBLISH, "```output\n7\n```"))
    with pytest.raises(CommandError, match="1 of 2 example"):
        call_command("content_examples", "--content", str(tmp_path))
    out, err = capsys.readouterr()
    assert f"{good}:{line_of(good, '```python run')}: ok" in out
    assert f"{bad}:{line_of(bad, '```python run')}: it printed:" in err
    call_command("content_examples", str(good), "--content", str(tmp_path))
