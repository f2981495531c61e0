"""Reading a lesson's questions for export, and turning a GIFT or Moodle XML file into a
questions file that passes content_check, or errors that name the file and line."""

import os
import tempfile
from pathlib import Path

from ..checks import question_check
from ..content import ContentInvalid, content_validate
from ..sources import ContentError, LessonSource, questions_read, read_text
from .gift import gift_parse, gift_render
from .moodle_xml import moodle_xml_parse, moodle_xml_render
from .qti import qti_render
from .questions import Question, question_from_source, questions_from_imported, questions_markdown

EXPORT_FORMATS = ("gift", "moodle-xml", "qti")
IMPORT_FORMATS = ("gift", "moodle-xml")


def lesson_find(*, root: Path, lesson: str) -> LessonSource:
    """The lesson whose slug, lesson file or questions file is ``lesson``, with its questions.

    Raises ContentInvalid if its files have errors (an export must be of what the site loads)
    and LookupError if there is no such lesson.
    """
    courses, errors = content_validate(root=root)
    wanted = Path(lesson).resolve()
    for source in (source for course in courses for source in course.lessons):
        files = {source.path.resolve(), source.questions_path and source.questions_path.resolve()}
        if source.meta.get("slug") == lesson or wanted in files:
            mine = [error for error in errors if error.path.resolve() in files]
            if mine:
                raise ContentInvalid(mine)
            return source
    raise LookupError(f"no lesson '{lesson}' under {root}: give its slug or its file")


def questions_export(*, lesson: LessonSource, to: str) -> bytes:
    questions = [question_from_source(question) for question in lesson.questions]
    slug = lesson.meta["slug"]
    if to == "qti":
        return qti_render(questions, ident=slug, title=lesson.meta["title"])
    render = gift_render if to == "gift" else moodle_xml_render
    return render(questions).encode()


def import_format(path: Path, text: str) -> str:
    """Moodle XML by its extension or its first character, GIFT otherwise."""
    return (
        "moodle-xml" if path.suffix.lower() == ".xml" or text.lstrip().startswith("<") else "gift"
    )


def questions_import(*, path: Path, difficulty: str, source_format: str = "",
                     notes: list[ContentError]) -> str:  # fmt: skip
    """The questions file for the questions in ``path``; raises ContentInvalid, every error
    naming ``path`` and a line, if any question cannot be read or would not pass the checks."""
    errors: list[ContentError] = []
    text = read_text(path, errors)
    if text is None:
        raise ContentInvalid(errors)
    parse = (
        gift_parse if (source_format or import_format(path, text)) == "gift" else moodle_xml_parse
    )
    items = parse(text, path=path, errors=errors)
    if not items and not errors:
        errors.append(ContentError(path, 1, "no multiple-choice question in this file"))
    if errors:
        raise ContentInvalid(errors)
    questions = questions_from_imported(items, path=path, difficulty=difficulty, notes=notes)
    untitled = [
        item.line for item, question in zip(items, questions, strict=True) if not question.title
    ]
    if untitled:
        message = "this question has no text: write what it asks"
        raise ContentInvalid([ContentError(path, line, message) for line in untitled])
    markdown = questions_markdown(questions)
    errors = _written_problems(markdown, questions, [item.line for item in items], path)
    if errors:
        raise ContentInvalid(errors)
    return markdown


def _written_problems(markdown: str, questions: list[Question], lines: list[int],
                      path: Path) -> list[ContentError]:  # fmt: skip
    """Read the questions file back as content_check does: each question must pass its checks
    and read back as exactly what was imported. A problem is reported at the source's line."""
    with tempfile.TemporaryDirectory() as folder:
        written = Path(folder) / "imported.questions.md"
        written.write_text(markdown, encoding="utf-8")
        problems: list[ContentError] = []
        sources = questions_read(written, problems)
        for source in sources:
            question_check(source, problems)
    starts = [source.line for source in sources]
    errors = []
    for problem in problems:
        index = max((i for i, start in enumerate(starts) if start <= problem.line), default=0)
        errors.append(ContentError(path, lines[min(index, len(lines) - 1)], problem.message))
    if not errors:
        for question, source, line in zip(questions, sources, lines, strict=False):
            if question_from_source(source) != question:
                message = (
                    "this question would not read back the same from a questions file: its "
                    "text holds a task list ('- [x]') or a '### ' heading"
                )
                errors.append(ContentError(path, line, message))
    return sorted(set(errors), key=lambda error: error.line)


def file_write_new(*, path: Path, data: bytes) -> None:
    """Write a new file whole or not at all: a temporary file renamed into place."""
    if path.exists():
        raise FileExistsError(f"{path} exists: give a new path")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
