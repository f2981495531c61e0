"""Running the course's runnable examples, to prove that each prints what the course says.

A ```python run block in a lesson is followed by the ```output it prints; in a question's text
it asks "what does this print?" and the right option is the output (content/README.md,
"Runnable examples"). Each example runs as the learner would run it: saved to a file in an
empty folder, with its own fresh redis-server on a free local port (``REDIS_URL`` names it) and,
for ```python run worker, a real Celery worker started from that file (``learnsite.sandbox``:
an interrupted run leaves no redis-server or worker behind).
"""

import contextlib
import doctest
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from learnsite.processes import die_with_parent
from learnsite.sandbox import SandboxFailed, private_redis, private_worker
from lessons.fences import Block

from .checks import snippet_answer
from .sources import ContentError, CourseSource

RUN_SECONDS = 30


@dataclass(frozen=True)
class Example:
    path: Path
    line: int
    code: str
    with_worker: bool
    # A lesson's example: the output the lesson shows. A question's: its options' outputs.
    expected: str | None = None
    right_answer: str | None = None
    wrong_answers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return ContentError(self.path, self.line, "").__str__().removesuffix(": ")


class ExampleFailed(Exception):
    pass


def examples_find(courses: list[CourseSource]) -> list[Example]:
    """Every runnable example of the courses, in file order."""
    found = []
    for lesson in (lesson for course in courses for lesson in course.lessons):
        blocks = lesson.blocks
        for block, after in zip(blocks, [*blocks[1:], None], strict=True):
            if "run" in block.flags:
                expected = after.text if after is not None and after.info == "output" else None
                found.append(_example(lesson.path, block, expected=expected))
        for question in lesson.questions:
            answers = [(option.correct, snippet_answer(option.text)) for option in question.options]
            for block in (block for block in question.blocks if "run" in block.flags):
                right = next((text for correct, text in answers if correct), None)
                wrong = tuple(text for correct, text in answers if not correct and text)
                found.append(
                    _example(question.path, block, right_answer=right, wrong_answers=wrong)
                )
    return found


def _example(path: Path, block: Block, **answers) -> Example:
    return Example(path, block.line, block.text, "worker" in block.flags, **answers)


def example_check(example: Example) -> str | None:
    """Run the example; None if it prints what the course says, else what is wrong."""
    try:
        output = example_run(example)
    except ExampleFailed as error:
        return str(error)
    if example.expected is not None:
        if not output_matches(expected=example.expected, actual=output):
            return f"it printed:\n{output}\nbut the lesson says:\n{example.expected}"
        return None
    shown = " ".join(output.split())
    if example.right_answer is None:
        return "the question has no right option in backticks to compare the output with"
    if shown != example.right_answer:
        return f"it printed `{shown}`, but the right option is `{example.right_answer}`"
    if shown in example.wrong_answers:
        return f"it printed `{shown}`, which is also a wrong option"
    return None


def output_matches(*, expected: str, actual: str) -> bool:
    """Line by line, trailing spaces ignored; '...' stands for any text, as in doctest."""

    def normal(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"

    checker = doctest.OutputChecker()
    return checker.check_output(normal(expected), normal(actual), doctest.ELLIPSIS)


def example_run(example: Example) -> str:
    """The example's standard output, run against a fresh Redis (and worker) of its own."""
    with tempfile.TemporaryDirectory(prefix="example-") as folder:
        workdir = Path(folder)
        program = workdir / ("tasks.py" if example.with_worker else "example.py")
        program.write_text(example.code + "\n")
        try:
            with contextlib.ExitStack() as started:
                redis = started.enter_context(private_redis(workdir=workdir))
                if example.with_worker:
                    started.enter_context(
                        private_worker(
                            workdir=workdir, redis_url=redis.url, hostname="example@%h",
                            options=("--concurrency", "2"),
                        )
                    )  # fmt: skip
                return _program_output(program, redis_url=redis.url)
        except SandboxFailed as error:
            raise ExampleFailed(str(error)) from error


def _program_output(program: Path, *, redis_url: str) -> str:
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(program.parent)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the example is a program of its own
    try:
        # The course's own code, which the test suite exists to run.
        done = subprocess.run(  # noqa: S603
            [sys.executable, program.name], cwd=program.parent, env=env, capture_output=True,
            text=True, timeout=RUN_SECONDS, preexec_fn=die_with_parent(),
        )  # fmt: skip
    except subprocess.TimeoutExpired as error:
        raise ExampleFailed(f"it did not finish in {RUN_SECONDS} s") from error
    if done.returncode != 0:
        raise ExampleFailed(f"it exited with status {done.returncode}:\n{done.stderr}")
    return done.stdout
