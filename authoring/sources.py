"""Reading content files into plain structures, with the line every piece came from.

This module only reads and records problems: it never raises on bad input (every mistake
becomes a ``ContentError`` naming the file and line), and it never touches the database.
``authoring.checks`` adds the rules that need the whole course; ``authoring.content`` loads.

The format is documented, with a complete example, in content/README.md.
"""

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lessons.fences import Block, split_fences

QUESTIONS_SUFFIX = ".questions.md"
KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
# The closing '#'s of a heading are dropped in heading_title: a regex that does it takes
# minutes on a long line of spaces.
H2 = re.compile(r"^##\s+(.+)$")
H3 = re.compile(r"^###\s+(.+)$")
OPTION = re.compile(r"^[-*+]\s+\[([ xX])\]\s+(.*)$")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
MAX_FILE_BYTES = 512 * 1024
# PyYAML's constructors raise plain Python errors on some values ('2001-13-45', '!!int', an
# integer of 5000 digits) instead of a YAMLError: each is a mistake in the file all the same.
YAML_VALUE_ERRORS = (ValueError, LookupError, AttributeError, TypeError)
# A file changed this soon after it was read may have kept its modification time (the clock
# the file system stamps with is coarse): its contents are compared before it is trusted.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class ContentError:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        path = self.path
        if path.is_absolute() and path.is_relative_to(Path.cwd()):
            path = path.relative_to(Path.cwd())
        return f"{path}:{self.line}: {self.message}"


@dataclass
class Section:
    """The lines under one heading (or before the first heading, with an empty title)."""

    title: str
    line: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class LessonSource:
    path: Path
    meta: dict
    key_lines: dict[str, int]
    intro: Section
    sections: list[Section]
    blocks: list[Block]
    questions: list["QuestionSource"] = field(default_factory=list)
    questions_path: Path | None = None
    # A hash of the lesson file and its questions file as read.
    digest: str = ""
    # authoring.checks keeps the lesson's errors here with what they depended on, so that an
    # unchanged lesson is not checked again.
    checked: tuple | None = field(default=None, compare=False, repr=False)
    # authoring.content keeps the lesson's digest here with what it depended on, likewise.
    load_digest: tuple | None = field(default=None, compare=False, repr=False)


@dataclass
class OptionSource:
    text: str
    correct: bool
    feedback: str
    line: int


@dataclass
class QuestionSource:
    path: Path
    line: int
    title: str
    meta: dict
    key_lines: dict[str, int]
    prompt: str
    options: list[OptionSource]
    parts: dict[str, Section]  # "solution", "quick check", "hints", "common mistakes"
    blocks: list[Block]
    lines: list[str]  # everything under the heading, from the line after it


@dataclass
class CourseSource:
    slug: str
    path: Path
    meta: dict
    lessons: list[LessonSource]
    key_lines: dict[str, int] = field(default_factory=dict)


def read_text(path: Path, errors: list[ContentError]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            message = f"the file is over {MAX_FILE_BYTES} bytes: split it"
            errors.append(ContentError(path, 1, message))
            return None
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not content
    except UnicodeDecodeError:
        errors.append(ContentError(path, 1, "save the file as UTF-8 text"))
    except OSError as error:
        errors.append(ContentError(path, 1, f"cannot read the file: {error.strerror}"))
    else:
        if "\x00" not in text:
            return text
        line = text.count("\n", 0, text.index("\x00")) + 1
        errors.append(ContentError(path, line, "remove the NUL character from this line"))
    return None


def key_lines(text: str, first_line: int) -> dict[str, int]:
    """The line each top-level ``key:`` of a YAML mapping is on, for error messages."""
    lines = {}
    for index, line in enumerate(text.splitlines()):
        match = KEY_LINE.match(line)
        if match:
            lines.setdefault(match.group(1), first_line + index)
    return lines


def yaml_load(text: str) -> object:
    """``yaml.safe_load``, by libyaml when PyYAML has it (several times faster). Its messages
    differ, so on any error the pure loader reads the text again and raises its own."""
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except Exception:
        return yaml.safe_load(text)


def yaml_mapping(
    text: str, path: Path, first_line: int, errors: list[ContentError], what: str
) -> dict | None:
    """``text`` as a YAML mapping, or None with an error at the right line."""
    try:
        data = yaml_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = first_line + (mark.line if mark else 0)
        problem = getattr(error, "problem", None) or "it is not valid YAML"
        errors.append(ContentError(path, line, f"fix the {what}: {problem}"))
        return None
    except RecursionError:
        errors.append(ContentError(path, first_line, f"fix the {what}: it nests too deeply"))
        return None
    except YAML_VALUE_ERRORS as error:
        errors.append(ContentError(path, first_line, f"fix the {what}: {error}"))
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        errors.append(ContentError(path, first_line, f"write the {what} as 'key: value' lines"))
        return None
    return data


def split_sections(
    lines: list[str], first_line: int, heading: re.Pattern
) -> tuple[Section, list[Section], list[bool], list[Block]]:
    """The text before the first heading, then one section per heading (outside code); and
    which lines are inside fenced code, and its blocks, for the caller (``split_fences``)."""
    inside, blocks = split_fences(lines, first_line)
    intro = Section(title="", line=first_line, lines=[])
    sections, current = [], intro
    for index, line in enumerate(lines):
        match = heading.match(line) if line[:1] == "#" and not inside[index] else None
        if match:
            current = Section(heading_title(match.group(1)), first_line + index, lines=[])
            sections.append(current)
        else:
            current.lines.append(line)
    return intro, sections, inside, blocks


def heading_title(text: str) -> str:
    """A heading's text without its closing '#'s: '## Tips ##' is 'Tips', '## C#' is 'C#'."""
    title = text.strip()
    bare = title.rstrip("#")
    return bare.strip() if bare != title and (not bare or bare[-1].isspace()) else title


def list_items(section: Section) -> list[str]:
    """A part written as a list, one string per item (the whole text if it is no list)."""
    items: list[str] = []
    for line in section.lines:
        if LIST_ITEM.match(line):
            items.append(LIST_ITEM.sub("", line, count=1))
        elif items and line.strip():
            items[-1] += "\n" + line.strip()
    return items or [section.text.strip()]


def front_matter(
    path: Path, text: str, errors: list[ContentError]
) -> tuple[dict, dict[str, int], int] | None:
    """The YAML between the opening ``---`` lines, its keys' lines, and where the body starts."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        errors.append(ContentError(path, 1, "start the file with a '---' line, then front matter"))
        return None
    end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---"), None)
    if end is None:
        errors.append(ContentError(path, 1, "close the front matter with a second '---' line"))
        return None
    text = "\n".join(lines[1:end])
    meta = yaml_mapping(text, path, 2, errors, "front matter")
    if meta is None:
        return None
    return meta, key_lines(text, 2), end + 2


def lesson_read(path: Path, errors: list[ContentError]) -> LessonSource | None:
    text = read_text(path, errors)
    if text is None:
        return None
    parsed = front_matter(path, text, errors)
    if parsed is None:
        return None
    meta, meta_lines, body_line = parsed
    lines = text.splitlines()[body_line - 1 :]
    intro, sections, _, blocks = split_sections(lines, body_line, H2)
    lesson = LessonSource(path, meta, meta_lines, intro, sections, blocks)
    questions_path = path.with_name(path.stem + QUESTIONS_SUFFIX)
    if questions_path.exists():
        lesson.questions_path = questions_path
        lesson.questions = questions_read(questions_path, errors)
    return lesson


def questions_read(path: Path, errors: list[ContentError]) -> list[QuestionSource]:
    text = read_text(path, errors)
    if text is None:
        return []
    _, sections, _, _ = split_sections(text.splitlines(), 1, H2)
    if not sections:
        errors.append(ContentError(path, 1, "start each question with a '## ' heading"))
    return [q for q in (question_read(path, section, errors) for section in sections) if q]


def question_read(
    path: Path, section: Section, errors: list[ContentError]
) -> QuestionSource | None:
    body_line = section.line + 1
    head, parts, inside, blocks = split_sections(section.lines, body_line, H3)
    meta_block = next((block for block in blocks if block.info == "question"), None)
    if meta_block is None:
        message = "add a ```question block with its id, difficulty and type under the heading"
        errors.append(ContentError(path, section.line, message))
        return None
    meta = yaml_mapping(meta_block.text, path, meta_block.line + 1, errors, "question block")
    if meta is None:
        return None
    meta_lines = range(meta_block.line, meta_block.end_line + 1)
    # The head is the first lines of the section: its lines are inside code as those are.
    prompt, options = _prompt_and_options(head, inside, meta_lines, errors, path)
    return QuestionSource(
        path=path,
        line=section.line,
        title=section.title,
        meta=meta,
        key_lines=key_lines(meta_block.text, meta_block.line + 1),
        prompt=prompt,
        options=options,
        parts=_parts_by_name(path, parts, errors),
        blocks=[block for block in blocks if block is not meta_block],
        lines=section.lines,
    )


def _parts_by_name(
    path: Path, parts: list[Section], errors: list[ContentError]
) -> dict[str, Section]:
    named: dict[str, Section] = {}
    for part in parts:
        name = part.title.strip().lower()
        if name in named:
            message = (
                f"'### {part.title}' appears twice (first at line {named[name].line}): merge them"
            )
            errors.append(ContentError(path, part.line, message))
        named.setdefault(name, part)
    return named


def _prompt_and_options(
    head: Section, inside: list[bool], skip: range, errors: list[ContentError], path: Path
) -> tuple[str, list[OptionSource]]:
    """Split the text under a question's heading into its prompt and its task-list options
    (``inside``: which of its lines are inside fenced code)."""
    prompt_lines: list[str] = []
    options: list[OptionSource] = []
    wrapped: set[int] = set()  # options already reported as going on over a line
    for index, line in enumerate(head.lines):
        number = head.line + index
        if number in skip:
            continue
        match = None if inside[index] else OPTION.match(line)
        if match:
            correct = match.group(1).lower() == "x"
            options.append(OptionSource(match.group(2).strip(), correct, "", number))
        elif options and not line.strip():
            if options[-1].feedback:
                options[-1].feedback += "\n"
        elif options and line.startswith((" ", "\t")):
            # Indented under an option: its feedback, which starts with '> ' so that an option
            # wrapped onto a second line is not read as feedback (and cut short).
            option, text = options[-1], line.strip()
            if text.startswith(">"):
                option.feedback += text[1:].strip() + "\n"
            elif option.feedback:
                option.feedback += text + "\n"  # a feedback line goes on, as in markdown
            elif len(options) not in wrapped:
                wrapped.add(len(options))
                letter = chr(ord("a") + len(options) - 1)
                message = (
                    f"option ({letter}) goes on to line {number}: write an option on one line, "
                    "however long, and start its feedback with '> ' (as in '  > Yes: ...')"
                )
                errors.append(ContentError(path, option.line, message))
        elif options:
            message = "after the options, write only their indented feedback, or a '### ' part"
            errors.append(ContentError(path, number, message))
        else:
            prompt_lines.append(line)
    for option in options:
        option.feedback = option.feedback.strip()
    return "\n".join(prompt_lines).strip(), options


def course_read(folder: Path, errors: list[ContentError]) -> CourseSource | None:
    course_file = folder / "course.yaml"
    text = read_text(course_file, errors)
    if text is None:
        return None
    meta = yaml_mapping(text, course_file, 1, errors, "course file")
    if meta is None:
        return None
    lessons = []
    for path in sorted(folder.glob("*.md")):
        if path.name.endswith(QUESTIONS_SUFFIX) or path.name.upper() == "README.MD":
            continue
        lesson = lesson_read_cached(path, errors)
        if lesson is not None:
            lessons.append(lesson)
    for path in sorted(folder.glob(f"*{QUESTIONS_SUFFIX}")):
        lesson_file = path.with_name(path.name.removesuffix(QUESTIONS_SUFFIX) + ".md")
        if not lesson_file.exists():
            message = f"no lesson file {lesson_file.name} for these questions: rename one to match"
            errors.append(ContentError(path, 1, message))
    return CourseSource(folder.name, folder, meta, lessons, key_lines(text, 1))


@dataclass
class _Read:
    """A lesson as read, with what its files were like then and the errors they had."""

    stamps: tuple
    lesson: LessonSource | None
    errors: list[ContentError]
    read_at: int


_lessons_read: dict[Path, _Read] = {}


def _stamp(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)


def _files_digest(paths: list[Path]) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for path in paths:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\x00missing")
        digest.update(b"\x00")
    return digest.hexdigest()


def lesson_read_cached(path: Path, errors: list[ContentError]) -> LessonSource | None:
    """``lesson_read``, or what it gave last time if neither file has changed since.

    A file is unchanged if its size, times and inode are as they were, and, if it was changed
    within RACY_NS of that read (the times alone cannot tell then), its bytes too.
    """
    paths = [path, path.with_name(path.stem + QUESTIONS_SUFFIX)]
    stamps = tuple(_stamp(p) for p in paths)
    now = time.time_ns()
    cached = _lessons_read.get(path)
    if cached is not None and cached.stamps == stamps:
        newest = max(stamp[1] for stamp in stamps if stamp)
        trusted = cached.read_at - newest > RACY_NS
        if trusted or (cached.lesson and cached.lesson.digest == _files_digest(paths)):
            if not trusted:
                cached.read_at = now
            errors.extend(cached.errors)
            return cached.lesson
    digest = _files_digest(paths)
    own: list[ContentError] = []
    lesson = lesson_read(path, own)
    if lesson is not None:
        lesson.digest = digest
    _lessons_read[path] = _Read(stamps, lesson, own, now)
    errors.extend(own)
    return lesson


def content_read(root: Path) -> tuple[list[CourseSource], list[ContentError]]:
    """Every course under ``root`` (a folder holding a ``course.yaml``), or one course folder."""
    errors: list[ContentError] = []
    if not root.is_dir():
        return [], [ContentError(root, 1, "no such folder: give the content folder's path")]
    if (root / "course.yaml").exists():
        folders = [root]
    else:
        folders = sorted(folder for folder in root.iterdir() if (folder / "course.yaml").is_file())
        course_folders = set(folders)  # a list would be searched once per lesson file
        for stray in sorted(root.glob("*/*.md")):
            if stray.parent not in course_folders and stray.name.upper() != "README.MD":
                message = "this folder has no course.yaml, so its lessons are not part of a course"
                errors.append(ContentError(stray, 1, message))
    if not folders:
        message = "no course here: a course is a folder with a course.yaml (see content/README.md)"
        errors.append(ContentError(root, 1, message))
    courses = [course for course in (course_read(f, errors) for f in folders) if course]
    return courses, errors
