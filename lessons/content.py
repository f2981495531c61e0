"""Courses and lessons from the markdown files under content/, loaded all or nothing.

A course is a folder with a ``course.yaml`` (title, summary, order); each ``*.md`` file in it
is a lesson: YAML front matter between ``---`` lines, then the markdown body. Errors name the
file and line, and nothing is written to the database unless every file is valid.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.db import transaction

from .markdown import markdown_render
from .models import Course, Lesson

WORDS_PER_MINUTE = 200
LESSON_KEYS = {
    "slug": str,
    "title": str,
    "order": int,
    "summary": str,
    "minutes": int,
    "impact": str,
}
REQUIRED_LESSON_KEYS = {"slug", "title", "order"}
IMPACTS = {"low", "medium", "high"}


@dataclass(frozen=True)
class ContentError:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentInvalid(Exception):
    def __init__(self, errors: list[ContentError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


@dataclass
class LessonSource:
    path: Path
    meta: dict
    body: str


@dataclass
class CourseSource:
    slug: str
    meta: dict
    lessons: list[LessonSource]


def _front_matter(path: Path, text: str, errors: list[ContentError]) -> tuple[dict, str] | None:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        errors.append(ContentError(path, 1, "start the file with a '---' line, then front matter"))
        return None
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        errors.append(ContentError(path, 1, "close the front matter with a second '---' line"))
        return None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark else 2
        errors.append(ContentError(path, line, f"fix the YAML front matter: {error}"))
        return None
    if not isinstance(meta, dict):
        errors.append(ContentError(path, 2, "the front matter must be 'key: value' lines"))
        return None
    return meta, "\n".join(lines[end + 1 :])


def _lesson_check(path: Path, meta: dict, errors: list[ContentError]) -> None:
    for key in sorted(set(meta) - set(LESSON_KEYS)):
        known = ", ".join(sorted(LESSON_KEYS))
        errors.append(ContentError(path, 2, f"unknown key '{key}': use one of {known}"))
    for key in sorted(REQUIRED_LESSON_KEYS - set(meta)):
        errors.append(ContentError(path, 2, f"add '{key}:' to the front matter"))
    for key, kind in LESSON_KEYS.items():
        if key in meta and not isinstance(meta[key], kind):
            errors.append(ContentError(path, 2, f"'{key}' must be a {kind.__name__}"))
    if "impact" in meta and meta["impact"] not in IMPACTS:
        errors.append(
            ContentError(path, 2, f"'impact' must be one of {', '.join(sorted(IMPACTS))}")
        )


def content_parse(*, root: Path) -> tuple[list[CourseSource], list[ContentError]]:
    """Read every course under ``root``; returns what parsed and every error found."""
    courses, errors = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        course_file = folder / "course.yaml"
        if not course_file.exists():
            continue
        try:
            course_meta = yaml.safe_load(course_file.read_text()) or {}
        except yaml.YAMLError as error:
            errors.append(ContentError(course_file, 1, f"fix the YAML: {error}"))
            continue
        course = CourseSource(slug=folder.name, meta=course_meta, lessons=[])
        for path in sorted(folder.glob("*.md")):
            parsed = _front_matter(path, path.read_text(), errors)
            if parsed is not None:
                _lesson_check(path, parsed[0], errors)
                course.lessons.append(LessonSource(path=path, meta=parsed[0], body=parsed[1]))
        courses.append(course)
    slugs: dict[str, Path] = {}
    for lesson in (lesson for course in courses for lesson in course.lessons):
        slug = lesson.meta.get("slug")
        if slug in slugs:
            message = f"slug '{slug}' is already used by {slugs[slug]}: choose another"
            errors.append(ContentError(lesson.path, 2, message))
        slugs.setdefault(slug, lesson.path)
    return courses, errors


@transaction.atomic
def content_load(*, root: Path) -> int:
    """Replace the loaded courses with the files under ``root``; returns the lesson count."""
    courses, errors = content_parse(root=root)
    if errors:
        raise ContentInvalid(errors)
    count = 0
    for order, source in enumerate(courses):
        course, _ = Course.objects.update_or_create(
            slug=source.slug,
            defaults={
                "title": source.meta.get("title", source.slug),
                "summary": source.meta.get("summary", ""),
                "order": source.meta.get("order", order),
            },
        )
        for lesson in source.lessons:
            words = len(lesson.body.split())
            Lesson.objects.update_or_create(
                slug=lesson.meta["slug"],
                defaults={
                    "course": course,
                    "title": lesson.meta["title"],
                    "summary": lesson.meta.get("summary", ""),
                    "order": lesson.meta["order"],
                    "minutes": lesson.meta.get("minutes")
                    or max(1, math.ceil(words / WORDS_PER_MINUTE)),
                    "impact": lesson.meta.get("impact", ""),
                    "body_html": markdown_render(lesson.body),
                    "source_path": str(lesson.path.relative_to(root)),
                },
            )
            count += 1
    loaded = [lesson.meta["slug"] for course in courses for lesson in course.lessons]
    Lesson.objects.exclude(slug__in=loaded).delete()
    Course.objects.exclude(slug__in=[course.slug for course in courses]).delete()
    return count
