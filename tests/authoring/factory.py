"""Small writers of course files for the tests: each writes a complete, valid file by default,
with unique slugs, orders and ids, and takes only what a test changes.

Front matter, question blocks and parts are given as dicts of raw text: a key mapped to None is
left out, so a test can break one rule and keep the rest of the file valid.
"""

from itertools import count
from pathlib import Path

from authoring.sources import QUESTIONS_SUFFIX

COURSE_YAML = "title: Test course\nsummary: A course written for the tests.\norder: 1\n"
_numbers = count(1)

LESSON_SECTIONS = {
    "Concept": "A view that waits for slow work keeps the user waiting too.",
    "Bad pattern": (
        "The view does the work itself.\n\n"
        "```python\ndef signup(request):\n    send_mail()\n```\n\n"
        "Cost: the request waits for the mail server."
    ),
    "Good pattern": (
        "The view queues a task.\n\n"
        "```python\ndef signup(request):\n    send_mail_task.delay()\n```\n\n"
        "Gain: the request returns at once."
    ),
    "Comparison": (
        "| Pattern | Wait |\n| --- | --- |\n| In the view | 300 ms |\n| In a task | 1 ms |"
    ),
    "Bottleneck": "The request thread.",
    "Tips": "- Pass ids to tasks, not objects.",
    "Check it yourself": "- Time both requests in the browser's Network panel.",
}

QUESTION_PARTS = {
    "Solution": "1. A broker holds messages.\n2. A worker takes them.",
    "Quick check": "Broker = waiting room.",
    "Hints": "- Which process runs the code?\n- Which one only stores data?",
    "Common mistakes": "- Thinking Redis runs the task.",
}


def make_course(folder: Path, *, text: str = COURSE_YAML) -> Path:
    """A course folder with its course.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yaml").write_text(text)
    return folder


def make_lesson(folder: Path, *, slug: str = "", order: int = 0, title: str = "",
                front: dict | None = None, sections: dict | None = None) -> Path:  # fmt: skip
    """A lesson file in ``folder`` (a course folder, created with its course.yaml if new).

    ``sections`` replaces, adds (new titles go last) or, with None, removes '## ' sections.
    """
    if not (folder / "course.yaml").exists():
        make_course(folder)
    number = next(_numbers)
    slug, order = slug or f"lesson-{number}", order or number
    meta = {
        "slug": slug,
        "title": title or f"Lesson {slug}",
        "order": str(order),
        "impact": "medium",
        "summary": f"What {slug} teaches.",
    } | (front or {})
    body = {**LESSON_SECTIONS, **(sections or {})}
    path = folder / f"{order:02d}-{slug}.md"
    path.write_text(
        "---\n"
        + "".join(f"{key}: {value}\n" for key, value in meta.items() if value is not None)
        + "---\n\n"
        + "".join(f"## {title}\n\n{text}\n\n" for title, text in body.items() if text is not None)
    )
    return path


def question_text(*, qid: str = "", title: str = "", meta: dict | None = None,
                  prompt: str = "Pick one.", options: str = "",
                  parts: dict | None = None) -> str:  # fmt: skip
    """One question: its heading, ```question block, prompt, options and parts."""
    qid = qid or f"question-{next(_numbers)}"
    meta = {"id": qid, "difficulty": "easy", "type": "single", "sets": "[quiz, practice]"} | (
        meta or {}
    )
    options = options or (
        f"- [x] The right answer to {qid}.\n  > Yes: that is what it does.\n"
        f"- [ ] A wrong answer to {qid}.\n  > No: that is something else.\n"
    )
    return (
        f"## {title or f'What is {qid} about?'}\n\n```question\n"
        + "".join(f"{key}: {value}\n" for key, value in meta.items() if value is not None)
        + f"```\n\n{prompt}\n\n{options}\n"
        + "".join(
            f"### {name}\n\n{text}\n\n"
            for name, text in {**QUESTION_PARTS, **(parts or {})}.items()
            if text is not None
        )
    )


def make_questions(lesson: Path, *questions: str) -> Path:
    """The questions file next to ``lesson``: the given questions, or one valid question."""
    path = lesson.with_name(lesson.stem + QUESTIONS_SUFFIX)
    path.write_text("\n".join(questions or [question_text()]))
    return path


def line_of(path: Path, needle: str) -> int:
    """The number of the first line of ``path`` that contains ``needle``."""
    lines = path.read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


def predict_question_text(*, lab: str, options: dict[str, str], expected: str, qid: str = "",
                          meta: dict | None = None) -> str:  # fmt: skip
    """A lab's 'predict' question: ``options`` maps each outcome code to the option's text, in
    order, and the option of the ``expected`` code is the one marked right."""
    lines = "".join(
        f"- [{'x' if code == expected else ' '}] {text}\n  > Feedback on {code}.\n"
        for code, text in options.items()
    )
    observes = ", ".join(f'"{code}"' for code in options)
    meta = {"sets": "[predict]", "lab": lab, "observes": f"[{observes}]"} | (meta or {})
    return question_text(qid=qid, meta=meta, options=lines)
