"""Loading the course files into the database: checked first, then written all or nothing.

``content_validate`` reads and checks (no database); ``content_load`` writes in one transaction
and only what changed, so running it twice changes nothing. A question whose text or answers
changed gets a new version, and answers stay tied to the version they answered; a lesson or
question removed from the files is retired, never deleted.

A lesson's body and its questions' texts are written as markdown and rendered when first
shown (``lessons.body``, ``quiz.rendering``). A lesson whose files (and what else it is made
from, ``_lesson_digest``) are as they were last loaded is not written at all; within one process
(the watcher) an unchanged file is not even read or checked again
(``sources.lesson_read_cached``).
"""

import functools
import gc
import hashlib
import json
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from labs.registry import LAB_KINDS
from learnsite.rows import rows_insert
from lessons import body as lessons_body
from lessons import markdown as lessons_markdown
from lessons.fences import split_fences
from lessons.models import ContentProblem, Course, Lesson
from lessons.rendered import content_version_bump
from quiz.services import QuestionContent, QuestionDraft, questions_sync

from .checks import CODE_SPAN, SECTION_KINDS, content_check
from .sources import (
    ContentError,
    LessonSource,
    QuestionSource,
    Section,
    content_read,
    list_items,
    yaml_load,
)

WORDS_PER_MINUTE = 200
OPTION_KEYS = "abcdefghijklmnopqrstuvwxyz"
RELATIVE_MD_LINK = re.compile(r"(\]\(\s*)([\w.-]+\.md)(#[\w-]*)?(\s*\))")
# What the loader writes, and what a lesson's markdown renders to, depend on their code as
# much as on the files: a new version of it writes (and so renders) every lesson again, once.
LOADER_DIGEST = hashlib.sha256(
    b"".join(Path(path).read_bytes() for path in (
        __file__, Path(__file__).with_name("sources.py"), lessons_body.__file__,
        lessons_markdown.__file__,
    ))
).hexdigest()  # fmt: skip


class ContentInvalid(Exception):
    def __init__(self, errors: list[ContentError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


@dataclass
class LoadReport:
    lessons_created: int = 0
    lessons_updated: int = 0
    lessons_unchanged: int = 0
    lessons_retired: int = 0
    courses_changed: int = 0
    question_versions_created: int = 0
    questions_retired: int = 0
    changed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"lessons: {self.lessons_created} new, {self.lessons_updated} updated, "
            f"{self.lessons_unchanged} unchanged, {self.lessons_retired} retired; "
            f"questions: {self.question_versions_created} new versions, "
            f"{self.questions_retired} retired"
        )


def content_validate(*, root: Path) -> tuple[list, list[ContentError]]:
    """Read and check every course under ``root``. Never raises on bad content."""
    courses, errors = content_read(root)
    content_check(courses, errors)
    return courses, sorted(set(errors), key=lambda e: (str(e.path), e.line, e.message))


@contextmanager
def _collector_paused():
    """Python's garbage collector off meanwhile: a first load of 1,000 lessons makes hundreds of
    thousands of objects that live on, which its full passes went over four times (about 1 s of
    a 10 s load) to find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_collector_paused()
@transaction.atomic
def content_load(*, root: Path) -> LoadReport:
    """Make the database match the files under ``root``, or raise ContentInvalid untouched."""
    courses, errors = content_validate(root=root)
    if errors:
        raise ContentInvalid(errors)
    report = LoadReport()
    loaded_slugs = []
    # Written together after the lessons' own rows, new lessons in one command (``rows_insert``),
    # and their questions a few queries per group (``questions_sync``).
    drafts: list[tuple[Lesson, list[QuestionDraft]]] = []
    stored_courses = Course.objects.in_bulk(field_name="slug")
    stored = {
        slug: (content_hash, retired)
        for slug, content_hash, retired in Lesson.objects.values_list(
            "slug", "content_hash", "retired"
        )
    }
    for position, source in enumerate(courses):
        course = _course_sync(source, position, stored_courses.get(source.slug), report)
        links = {lesson.path.name: lesson.meta["slug"] for lesson in source.lessons}
        links_digest = _digest(links)
        for lesson_source in source.lessons:
            slug = lesson_source.meta["slug"]
            loaded_slugs.append(slug)
            digest = _lesson_digest(lesson_source, course, root, links_digest)
            if stored.get(slug) == (digest, False):
                report.lessons_unchanged += 1
                continue
            body = _lesson_body(lesson_source, links)
            exists = slug in stored  # else no query to look for it
            lesson = _lesson_sync(lesson_source, course, root, body, digest, exists, report)
            drafts.append((lesson, [
                _question_draft(question, position, links)
                for position, question in enumerate(lesson_source.questions, start=1)
            ]))  # fmt: skip
    new = [lesson for lesson, _ in drafts if lesson.pk is None]
    if new:  # their ids read back by slug, as questions_sync reads its new questions' by key
        rows_insert(model=Lesson, rows=[vars(lesson) for lesson in new])
        slugs = [lesson.slug for lesson in new]
        ids = dict(Lesson.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        for lesson in new:
            lesson.pk = ids[lesson.slug]
    # Loading one course folder retires only that course's missing lessons; loading the whole
    # content folder also retires the lessons of courses that are gone.
    missing = Lesson.objects.active().exclude(slug__in=loaded_slugs)
    if (root / "course.yaml").exists():
        missing = missing.filter(course__slug__in=[course.slug for course in courses])
    for lesson in missing:
        lesson.retired = True
        lesson.save(update_fields=["retired"])
        report.lessons_retired += 1
        drafts.append((lesson, []))
    synced = questions_sync(lessons=dict(drafts))
    report.question_versions_created += synced.versions_created
    report.questions_retired += synced.retired
    if report.changed or report.lessons_retired or report.courses_changed:
        content_version_bump()  # in this transaction: pages render the new content once it commits
    return report


def content_problems_record(*, errors: list[ContentError], root: Path) -> None:
    """Keep the errors of the last load for the pages to show (none after a clean load)."""
    with transaction.atomic():
        ContentProblem.objects.all().delete()
        ContentProblem.objects.bulk_create(
            ContentProblem(path=_relative(error.path, root), line=error.line, message=error.message)
            for error in errors
        )


def _relative(path: Path, root: Path) -> str:
    if path.is_relative_to(root):  # as content_read makes them: no need to ask the disk
        return str(path.relative_to(root))
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _course_sync(source, position: int, course: Course | None, report: LoadReport) -> Course:
    values = {
        "title": source.meta["title"],
        "summary": source.meta.get("summary", ""),
        "order": source.meta.get("order", position),
    }
    if course is None:
        report.courses_changed += 1
        return Course.objects.create(slug=source.slug, **values)
    if any(getattr(course, key) != value for key, value in values.items()):
        report.courses_changed += 1
        Course.objects.filter(pk=course.pk).update(**values)
    return course


def _with_site_links(text: str, links: dict[str, str]) -> str:
    """Links to sibling lesson files (which work on any markdown viewer) become site URLs.

    Code is left as written, fenced or in backticks, as the link checks leave it.
    """
    if ".md" not in text:  # most texts: no link to a lesson file (RELATIVE_MD_LINK)
        return text

    def replace(match: re.Match) -> str:
        slug = links.get(match.group(2))
        if slug is None:
            return match.group(0)
        return f"{match.group(1)}/lessons/{slug}/{match.group(3) or ''}{match.group(4)}"

    def outside_code_spans(line: str) -> str:
        pieces = CODE_SPAN.split(line)
        spans = CODE_SPAN.findall(line)
        rewritten = [RELATIVE_MD_LINK.sub(replace, piece) for piece in pieces]
        return "".join(p + c for p, c in zip(rewritten, [*spans, ""], strict=True))

    lines = text.split("\n")
    inside, _ = split_fences(lines, 0)
    return "\n".join(
        line if in_code else outside_code_spans(line)
        for line, in_code in zip(lines, inside, strict=True)
    )


def _section_parts(section: Section, links: dict[str, str]) -> list[dict]:
    """A section's markdown, with each ```lab block as a part of its own."""
    # The blocks the checks saw: a ```lab shown inside a longer fence is an example, not a lab.
    _, blocks = split_fences(section.lines, 0)
    labs = {block.line: block for block in blocks if block.info == "lab"}
    parts, pending, lab_end = [], [], -1
    for index, line in enumerate(section.lines):
        lab = labs.get(index)
        if lab is not None:
            if pending:
                parts.append(_markdown_part(pending, links))
                pending = []
            parts.append(_lab_part(*_lab_block(lab.text)))
            lab_end = lab.end_line
        elif index > lab_end:
            pending.append(line)
    if pending:
        parts.append(_markdown_part(pending, links))
    return parts


def _lab_part(kind: str, goal: str) -> dict:
    """A placed lab with what its card shows, as the registry has it at load time: the lesson
    page only reads it, and the lesson's hash covers it, so a renamed lab is picked up by the
    next load. (The checks made sure the kind and the goal exist.)"""
    lab = LAB_KINDS[kind]
    return {
        "type": "lab",
        "kind": kind,
        "goal": goal,
        "title": lab.title,
        "summary": lab.summary,
        "url_name": lab.url_name,
        "goal_description": lab.goals[goal].description if goal else "",
    }


def _lesson_digest(source: LessonSource, course: Course, root: Path, links: str) -> str:
    """A hash of everything a lesson and its questions are made from: while it stays the same,
    so does what they render to, and the load leaves them unread.

    Kept on the source, which the watcher's process keeps while its files are unchanged, with
    what else it depends on."""
    context = (course.slug, root, links, _labs_placed(source))
    if source.load_digest is None or source.load_digest[0] != context:
        questions_path = _relative(source.questions_path, root) if source.questions_path else ""
        digest = _digest([
            LOADER_DIGEST, source.digest, course.slug, _relative(source.path, root),
            questions_path, links, context[3],
        ])  # fmt: skip
        source.load_digest = (context, digest)
    return source.load_digest[1]


def _labs_placed(source: LessonSource) -> list[dict]:
    """The lesson's labs as their cards show them: what the registry says of them is part of
    what the lesson is made from."""
    labs = [_lab_block(block.text) for block in source.blocks if block.info == "lab"]
    return [_lab_part(kind, goal) for kind, goal in labs]


@functools.lru_cache(maxsize=1024)
def _lab_block(text: str) -> tuple[str, str]:
    """A lab block's kind and goal: parsed once per text in a process (each load asks again)."""
    meta = yaml_load(text)
    return meta["kind"], meta.get("goal", "")


def _markdown_part(lines: list[str], links: dict[str, str]) -> dict:
    """Markdown with site links, rendered when first shown (``lessons.body``); a paragraph
    starting 'Cost:' or 'Gain:' is kept apart as the effect."""
    kept: list[str] = []
    effect_lines: list[str] = []
    in_effect = False
    for line in lines:
        stripped = line.strip()
        if not effect_lines and stripped.startswith(("Cost:", "Gain:")):
            in_effect = True
            effect_lines.append(stripped.split(":", 1)[1])
        elif in_effect and stripped:
            effect_lines.append(stripped)
        else:
            in_effect = False
            kept.append(line)
    part = {"type": "markdown", "text": _with_site_links("\n".join(kept), links)}
    if effect_lines:
        part["effect"] = " ".join(effect_lines).strip()
    return part


def _lesson_body(source: LessonSource, links: dict[str, str]) -> dict:
    """The lesson's markdown, its intro and its sections, as ``lessons.body`` renders it when
    the lesson is first shown: rendering every body here was most of a first load's time."""
    return {
        "intro_markdown": _with_site_links(source.intro.text, links),
        "intro_html": "",
        "body_rendered": False,
        "sections": [
            {
                "kind": SECTION_KINDS.get(section.title.lower(), "text"),
                "title": section.title,
                "anchor": slugify(section.title) or f"section-{index}",
                "parts": _section_parts(section, links),
            }
            for index, section in enumerate(source.sections, start=1)
        ],
    }


def _lesson_sync(source: LessonSource, course: Course, root: Path, body: dict, digest: str,
                 exists: bool, report: LoadReport) -> Lesson:  # fmt: skip
    meta = source.meta
    words = len(source.intro.text.split()) + sum(len(s.text.split()) for s in source.sections)
    values = {
        "course": course,
        "title": meta["title"],
        "track": meta.get("track", ""),
        "summary": meta["summary"],
        "order": meta["order"],
        "minutes": meta.get("minutes") or max(1, math.ceil(words / WORDS_PER_MINUTE)),
        "impact": meta["impact"],
        "prerequisites": meta.get("prerequisites", []),
        **body,
        "source_path": _relative(source.path, root),
        "questions_path": _relative(source.questions_path, root) if source.questions_path else "",
        "retired": False,
    }
    lesson = Lesson.objects.filter(slug=meta["slug"]).first() if exists else None
    if lesson is None:  # written by content_load, with the other new ones
        lesson = Lesson(slug=meta["slug"], content_hash=digest, **values)
        report.lessons_created += 1
    else:  # edited, or its file is back
        for key, value in values.items():
            setattr(lesson, key, value)
        lesson.content_hash = digest
        lesson.save()
        report.lessons_updated += 1
    report.changed.append(lesson.slug)
    return lesson


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _question_content(source: QuestionSource) -> dict:
    """What a question says: its hash names its version."""
    meta, parts = source.meta, source.parts
    content = {
        "difficulty": meta["difficulty"],
        "kind": meta["type"],
        "partial_credit": bool(meta.get("partial_credit", False)),
        "title": source.title,
        "prompt": source.prompt,
        "options": [[o.text, o.correct, o.feedback] for o in source.options],
        "solution": parts["solution"].text.strip(),
        "quick_check": parts["quick check"].text.strip(),
        "hints": list_items(parts["hints"]),
        "mistakes": parts["common mistakes"].text.strip(),
    }
    if "predict" in meta.get("sets", []):  # other questions keep the hash they had
        content |= {"lab": meta["lab"], "observes": meta["observes"]}
    return content


def _question_draft(source: QuestionSource, position: int, links: dict[str, str]) -> QuestionDraft:
    """The question with the hash of what it says (``_question_content``'s digest) and its
    texts as markdown, with site links (titles and options carry none)."""
    content = _question_content(source)
    return QuestionDraft(
        key=source.meta["id"],
        position=position,
        sets=list(source.meta.get("sets", [])),
        content_hash=_digest(content),
        content=QuestionContent(
            difficulty=content["difficulty"],
            kind=content["kind"],
            partial_credit=content["partial_credit"],
            options=[
                {"key": OPTION_KEYS[index], "correct": option.correct}
                for index, option in enumerate(source.options)
            ],
            markdown={
                "title": source.title,
                "prompt": _with_site_links(source.prompt, links),
                "options": [
                    {"text": option.text, "feedback": _with_site_links(option.feedback, links)}
                    for option in source.options
                ],
                **{
                    name: _with_site_links(content[name], links)
                    for name in ("solution", "quick_check", "mistakes")
                },
                "hints": [_with_site_links(hint, links) for hint in content["hints"]],
            },
            lab=content.get("lab", ""),
            observes=content.get("observes", []),
        ),
    )
