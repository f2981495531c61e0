"""Running the course's runnable examples, to prove that each prints what the course says.

A ```python run block in a lesson is followed by the ```output it prints; in a question's text
it asks "what does this print?" and the right option is the output (content/README.md,
"Runnable examples"). Each example runs as the learner would run it: saved to a file in an
empty folder, with its own fresh redis-server on a free local port (``REDIS_URL`` names it) and,
for ```python run worker, a real Celery worker started from that file. Each of those processes
is killed by the kernel should the process that started it end first
(``learnsite.processes.die_with_parent``): an interrupted run leaves no redis-server or worker
behind.
"""

import contextlib
import doctest
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from learnsite.embedded_redis import redis_server_binary
from learnsite.processes import die_with_parent

from .checks import snippet_answer
from .sources import Block, ContentError, CourseSource

RUN_SECONDS = 30
START_SECONDS = 30
# The worker a learner starts with `celery -A tasks worker`; the flags only make it start
# faster and quieter.
WORKER_ARGV = [
    "-m", "celery", "-A", "tasks", "worker", "--concurrency", "2", "--loglevel", "warning",
    "--without-mingle", "--without-gossip", "--hostname", "example@%h",
]  # fmt: skip


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
        port = _free_port()
        env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "PYTHONPATH": folder}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the example is a program of its own
        redis_argv = [
            redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", folder,
        ]  # fmt: skip
        redis = _start(redis_argv, env, workdir, ready=lambda: _redis_answers(port))
        worker = None
        try:
            if example.with_worker:
                worker_argv = [sys.executable, *WORKER_ARGV]
                worker = _start(worker_argv, env, workdir, ready=lambda: _worker_answers(env))
            try:
                # The course's own code, which the test suite exists to run.
                done = subprocess.run(  # noqa: S603
                    [sys.executable, program.name], cwd=workdir, env=env, capture_output=True,
                    text=True, timeout=RUN_SECONDS, preexec_fn=die_with_parent(),
                )  # fmt: skip
            except subprocess.TimeoutExpired as error:
                raise ExampleFailed(f"it did not finish in {RUN_SECONDS} s") from error
            if done.returncode != 0:
                raise ExampleFailed(f"it exited with status {done.returncode}:\n{done.stderr}")
            return done.stdout
        finally:
            for process in (worker, redis):
                if process is not None:
                    _stop(process)


def _start(argv: list[str], env: dict, workdir: Path, ready) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 (redis-server or a worker, fixed arguments)
        argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=die_with_parent(),
    )  # fmt: skip
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            log = process.stderr.read() if process.stderr else ""
            raise ExampleFailed(f"{Path(argv[0]).name} {' '.join(argv[1:4])} did not start:\n{log}")
        time.sleep(0.05)
    return process


def _stop(process: subprocess.Popen) -> None:
    """Kill the server and whatever it started, at once: the example is over, and a warm
    shutdown, which the learner's Ctrl-C would ask for, takes a worker about two seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # it leads a process group of its own
    process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _worker_answers(env: dict) -> bool:
    app = Celery(broker=env["REDIS_URL"], set_as_current=False)
    try:
        # The first answer is enough: without a limit, ping waits out its whole timeout.
        return bool(app.control.ping(timeout=0.5, limit=1))
    finally:
        app.close()
