"""The rules a course must follow before it loads. Each rule adds ``ContentError``s that say
where the problem is and what to change; none of them raises.
"""

import ast
import hashlib
import json
import re
import reprlib
from collections.abc import Iterable
from pathlib import Path

import yaml

from labs.registry import LAB_KINDS
from lessons.fences import Block, split_fences

from .sources import (
    QUESTIONS_SUFFIX,
    YAML_VALUE_ERRORS,
    ContentError,
    CourseSource,
    LessonSource,
    QuestionSource,
    key_lines,
    yaml_load,
)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
IMPACTS = ("low", "medium", "high")
DIFFICULTIES = ("easy", "medium", "hard")
QUESTION_TYPES = ("single", "multiple")
QUESTION_SETS = ("quiz", "practice", "predict")

COURSE_KEYS = {"title": str, "summary": str, "order": int}
LESSON_KEYS = {
    "slug": str, "title": str, "track": str, "order": int, "minutes": int, "impact": str,
    "summary": str, "prerequisites": list,
}  # fmt: skip
REQUIRED_LESSON_KEYS = ("slug", "title", "order", "impact", "summary")
QUESTION_KEYS = {
    "id": str, "difficulty": str, "type": str, "sets": list, "partial_credit": bool, "lab": str,
    "observes": list,
}  # fmt: skip
REQUIRED_QUESTION_KEYS = ("id", "difficulty", "type")
LAB_KEYS = {"kind": str, "goal": str}

# The lesson sections the page lays out specially, by their '## ' title.
SECTIONS = {
    "concept": "Concept",
    "bad": "Bad pattern",
    "good": "Good pattern",
    "comparison": "Comparison",
    "bottleneck": "Bottleneck",
    "tips": "Tips",
    "check": "Check it yourself",
}
SECTION_KINDS = {title.lower(): kind for kind, title in SECTIONS.items()}
QUESTION_PARTS = ("solution", "quick check", "hints", "common mistakes")
# Fenced code in these languages must parse; others are shown as they are.
PARSERS = {
    "python": lambda text: ast.parse(text),
    "py": lambda text: ast.parse(text),
    "json": json.loads,
    "yaml": yaml_load,
    "yml": yaml_load,
}
PYTHON = {"python", "py"}
RUN_FLAGS = ("run", "worker")
# One code span, in single or double backticks (``a `b` c`` holds a backtick).
CODE_OPTION = re.compile(r"^(`+)(?!`)(.+?)(?<!`)\1$")
# Link text may hold one level of brackets ('[`a[0]`](x.md)'); more would make the search slow
# on long lines.
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*([^)\s]+)")
CODE_SPAN = re.compile(r"`[^`]*`")
# A value as shown in a message, cut short: YAML aliases can make a few lines hold a value far
# too big to print.
shown = reprlib.Repr(maxlevel=2, maxlist=4, maxdict=4, maxstring=60, maxother=60).repr


def _typed_keys(
    meta: dict, lines: dict[str, int], fallback: int, path: Path, allowed: dict,
    required: Iterable[str], errors: list[ContentError], what: str,
) -> None:  # fmt: skip
    for key in meta:
        if key not in allowed:
            known = ", ".join(allowed)
            message = f"unknown key '{key}' in the {what}: use one of {known}"
            errors.append(ContentError(path, lines.get(str(key), fallback), message))
    for key in required:
        if key not in meta:
            errors.append(ContentError(path, fallback, f"add '{key}:' to the {what}"))
    for key, kind in allowed.items():
        value = meta.get(key)
        # bool is an int to Python, never to an author.
        if key in meta and (
            not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
        ):
            message = f"'{key}' must be a {_kind_name(kind)}, not {shown(value)}"
            errors.append(ContentError(path, lines.get(key, fallback), message))


def _kind_name(kind: type) -> str:
    return {str: "text", int: "whole number", list: "list", bool: "true or false"}[kind]


def _choice(meta: dict, key: str, choices: tuple, lines: dict, fallback: int, path: Path,
            errors: list[ContentError]) -> None:  # fmt: skip
    if key in meta and isinstance(meta[key], str) and meta[key] not in choices:
        message = f"'{key}' must be one of {', '.join(choices)}, not '{meta[key]}'"
        errors.append(ContentError(path, lines.get(key, fallback), message))


def code_blocks_check(path: Path, blocks: list[Block], errors: list[ContentError]) -> None:
    for block in blocks:
        parse = PARSERS.get(block.info.lower())
        if parse is None:
            continue
        try:
            parse(block.text)
        except SyntaxError as error:
            line = block.line + (error.lineno or 1)
            message = f"this {block.info} block does not parse: {error.msg}"
            errors.append(ContentError(path, line, message))
        except (yaml.YAMLError, RecursionError, MemoryError, *YAML_VALUE_ERRORS) as error:
            mark = getattr(error, "problem_mark", None)
            line = block.line + 1 + (getattr(error, "lineno", 1) - 1 if not mark else mark.line)
            reason = getattr(error, "msg", None) or getattr(error, "problem", None) or "invalid"
            errors.append(
                ContentError(path, line, f"this {block.info} block does not parse: {reason}")
            )


def runnable_blocks_check(
    path: Path, blocks: list[Block], line_text: dict[int, str] | None, errors: list[ContentError]
) -> None:
    """```python run examples: the test suite runs them (content/README.md, "Runnable examples").

    In a lesson (``line_text`` given) each is followed directly by the ```output it prints; in
    a question the right option is the output, so an ```output block would give it away.
    """
    for index, block in enumerate(blocks):
        unknown = [flag for flag in block.flags if flag not in RUN_FLAGS]
        if unknown:
            message = (
                f"unknown word '{unknown[0]}' after ```{block.info}: a runnable example is "
                "```python run, or ```python run worker for one that needs a Celery worker"
            )
            errors.append(ContentError(path, block.line, message))
        elif block.flags and ("run" not in block.flags or block.info.lower() not in PYTHON):
            message = "only python blocks run: write ```python run or ```python run worker"
            errors.append(ContentError(path, block.line, message))
        elif block.info == "output":
            before = blocks[index - 1] if index else None
            if line_text is None:
                message = (
                    "a question's runnable example has no ```output block: its right option "
                    "is what it prints"
                )
                errors.append(ContentError(path, block.line, message))
            elif before is None or "run" not in before.flags:
                message = (
                    "an ```output block shows what the example above it prints: put it right "
                    "after a ```python run block"
                )
                errors.append(ContentError(path, block.line, message))
        elif "run" in block.flags and line_text is not None:
            after = blocks[index + 1] if index + 1 < len(blocks) else None
            between = range(block.end_line + 1, after.line) if after else range(0)
            if (
                after is None
                or after.info != "output"
                or any(line_text.get(line, "").strip() for line in between)
            ):
                message = (
                    "follow this runnable example directly with an ```output block of what it "
                    "prints"
                )
                errors.append(ContentError(path, block.line, message))


def snippet_question_check(question: QuestionSource, errors: list[ContentError]) -> None:
    """A question whose text holds a ```python run block asks what it prints; the test suite
    runs it and compares the output with the right option, so that option must be code."""
    runnable = [block for block in question.blocks if "run" in block.flags]
    if not runnable:
        return
    path, options = question.path, question.options
    first_option = options[0].line if options else question.line
    if len(runnable) > 1 or runnable[0].line > first_option:
        message = "give a question one ```python run block, in its text above the options"
        errors.append(ContentError(path, runnable[0].line, message))
    if question.meta.get("type") != "single":
        message = "a question about what an example prints is 'type: single'"
        errors.append(ContentError(path, runnable[0].line, message))
    for option in options:
        if option.correct and not snippet_answer(option.text):
            message = "write the right option as the exact output in backticks, like `[b'a']`"
            errors.append(ContentError(path, option.line, message))


def snippet_answer(option_text: str) -> str | None:
    """The output an option of a snippet question stands for: its text, if it is one code span."""
    match = CODE_OPTION.match(option_text)
    return match.group(2).strip() if match else None


def lab_blocks_check(path: Path, blocks: list[Block], errors: list[ContentError]) -> None:
    for block in blocks:
        if block.info != "lab":
            continue
        try:
            meta = yaml_load(block.text)
        except (yaml.YAMLError, RecursionError, *YAML_VALUE_ERRORS):
            meta = None
        if not isinstance(meta, dict):
            message = "write the lab block as 'kind: <lab>' (and optionally 'goal: ...') lines"
            errors.append(ContentError(path, block.line, message))
            continue
        lines = key_lines(block.text, block.line + 1)
        _typed_keys(meta, lines, block.line, path, LAB_KEYS, ("kind",), errors, "lab block")
        kind, goal = meta.get("kind"), meta.get("goal")
        if isinstance(kind, str) and kind not in LAB_KINDS:
            message = f"unknown lab kind '{kind}': use one of {', '.join(LAB_KINDS)}"
            errors.append(ContentError(path, lines.get("kind", block.line), message))
        elif isinstance(kind, str) and isinstance(goal, str) and goal not in LAB_KINDS[kind].goals:
            goals = ", ".join(LAB_KINDS[kind].goals) or "none yet"
            message = f"the {kind} lab has no goal '{goal[:40]}': its goals are {goals}"
            errors.append(ContentError(path, lines.get("goal", block.line), message))


def links_check(path: Path, lines: list[str], first_line: int, course: CourseSource,
                slugs: set[str], errors: list[ContentError]) -> None:  # fmt: skip
    inside, _ = split_fences(lines, first_line)
    for index, line in enumerate(lines):
        if inside[index] or "]" not in line:  # most lines: no link, so no search for one
            continue
        for target in LINK.findall(CODE_SPAN.sub("", line)):  # `[a](b.md)` is no link
            problem = _link_problem(target.split("#")[0], course, slugs)
            if problem:
                errors.append(ContentError(path, first_line + index, problem))


def _link_problem(target: str, course: CourseSource, slugs: set[str]) -> str:
    if target.startswith("/lessons/"):
        slug = target.removeprefix("/lessons/").strip("/")
        if slug not in slugs:
            return f"broken link {target}: no lesson has the slug '{slug}'"
    elif target.startswith("/labs/"):
        kind = target.removeprefix("/labs/").strip("/")
        if kind not in LAB_KINDS:
            return f"broken link {target}: labs are {', '.join(f'/labs/{k}/' for k in LAB_KINDS)}"
    elif target.endswith(".md") and "://" not in target:
        # Only the names of the course's lesson files become /lessons/<slug>/ on the site.
        lesson_files = {lesson.path.name for lesson in course.lessons}
        if target not in lesson_files:
            return f"broken link {target}: no lesson file of that name next to this lesson"
    return ""


def lesson_check(lesson: LessonSource, course: CourseSource, slugs: set[str],
                 errors: list[ContentError]) -> None:  # fmt: skip
    path, meta, lines = lesson.path, lesson.meta, lesson.key_lines
    _typed_keys(meta, lines, 2, path, LESSON_KEYS, REQUIRED_LESSON_KEYS, errors, "front matter")
    _choice(meta, "impact", IMPACTS, lines, 2, path, errors)
    slug = meta.get("slug")
    if isinstance(slug, str) and not SLUG.match(slug):
        message = (
            f"'slug' must be lowercase words joined by '-', like 'offloading-slow-work', "
            f"not '{slug}'"
        )
        errors.append(ContentError(path, lines.get("slug", 2), message))
    for key in ("order", "minutes"):
        if isinstance(meta.get(key), int) and not isinstance(meta[key], bool) and meta[key] < 1:
            errors.append(ContentError(path, lines.get(key, 2), f"'{key}' must be 1 or more"))
    prerequisites = meta.get("prerequisites")
    if isinstance(prerequisites, list):
        for item in prerequisites:
            if not isinstance(item, str) or item not in slugs:
                message = f"prerequisite {shown(item)} is not the slug of any lesson in the course"
                errors.append(ContentError(path, lines.get("prerequisites", 2), message))
    seen: dict[str, int] = {}
    for section in lesson.sections:
        kind = SECTION_KINDS.get(section.title.lower())
        if kind is None:
            continue
        if kind in seen:
            message = f"'## {section.title}' appears twice (first at line {seen[kind]}): merge them"
            errors.append(ContentError(path, section.line, message))
        seen.setdefault(kind, section.line)
        _section_check(kind, section, path, errors)
    for kind, title in SECTIONS.items():
        if kind not in seen:
            errors.append(ContentError(path, 1, f"add a '## {title}' section"))
    for block in lesson.blocks:
        if block.info == "question":
            message = f"questions go in {path.stem}{QUESTIONS_SUFFIX}, next to the lesson"
            errors.append(ContentError(path, block.line, message))
    code_blocks_check(path, lesson.blocks, errors)
    runnable_blocks_check(path, lesson.blocks, _line_text(lesson), errors)
    lab_blocks_check(path, lesson.blocks, errors)
    for section in [lesson.intro, *lesson.sections]:
        first_line = section.line + (1 if section.title else 0)
        links_check(path, section.lines, first_line, course, slugs, errors)


def _line_text(lesson: LessonSource) -> dict[int, str]:
    """Each line of a lesson's body by its number in the file."""
    text = {}
    for section in [lesson.intro, *lesson.sections]:
        first_line = section.line + (1 if section.title else 0)
        text.update(enumerate(section.lines, start=first_line))
    return text


def _section_check(kind: str, section, path: Path, errors: list[ContentError]) -> None:
    text = section.text
    has_code = any(line.lstrip().startswith(("```", "~~~")) for line in section.lines)
    if kind in {"bad", "good"}:
        label = "Cost:" if kind == "bad" else "Gain:"
        if not has_code:
            message = f"'## {section.title}' needs a code block showing the pattern"
            errors.append(ContentError(path, section.line, message))
        if not any(line.strip().startswith(label) for line in section.lines):
            message = (
                f"'## {section.title}' needs a line starting '{label}' with its measured effect"
            )
            errors.append(ContentError(path, section.line, message))
    if kind == "comparison" and not any(line.lstrip().startswith("|") for line in section.lines):
        message = "'## Comparison' needs a table ('| Pattern | ... |' lines)"
        errors.append(ContentError(path, section.line, message))
    if not text.strip():
        errors.append(ContentError(path, section.line, f"'## {section.title}' is empty: write it"))


def question_check(question: QuestionSource, errors: list[ContentError]) -> None:
    path, meta, lines = question.path, question.meta, question.key_lines
    fallback = min(lines.values(), default=question.line)
    _typed_keys(meta, lines, fallback, path, QUESTION_KEYS, REQUIRED_QUESTION_KEYS, errors,
                "question block")  # fmt: skip
    _choice(meta, "difficulty", DIFFICULTIES, lines, fallback, path, errors)
    _choice(meta, "type", QUESTION_TYPES, lines, fallback, path, errors)
    qid = meta.get("id")
    if isinstance(qid, str) and not SLUG.match(qid):
        message = (
            f"'id' must be lowercase words joined by '-', like 'publish-returns-count', not '{qid}'"
        )
        errors.append(ContentError(path, lines.get("id", fallback), message))
    sets = meta.get("sets")
    if isinstance(sets, list):
        for item in sets:
            if item not in QUESTION_SETS:
                message = f"'sets' may hold {', '.join(QUESTION_SETS)}, not {shown(item)}"
                errors.append(ContentError(path, lines.get("sets", fallback), message))
    if meta.get("partial_credit") and meta.get("type") != "multiple":
        message = "'partial_credit' only applies to 'type: multiple' questions"
        errors.append(ContentError(path, lines.get("partial_credit", fallback), message))

    options = question.options
    if len(options) < 2:
        message = "give at least two options as a task list: '- [x] right' and '- [ ] wrong'"
        errors.append(ContentError(path, question.line, message))
    correct = [option for option in options if option.correct]
    if options and not correct:
        message = "no option is marked correct: mark the right one '- [x]'"
        errors.append(ContentError(path, options[0].line, message))
    if meta.get("type") == "single" and len(correct) > 1:
        message = (
            "a single-answer question has two options marked '- [x]': keep one, "
            "or say 'type: multiple'"
        )
        errors.append(ContentError(path, correct[1].line, message))
    texts: dict[str, int] = {}
    for option in options:
        if not option.text:
            errors.append(ContentError(path, option.line, "this option has no text"))
        elif option.text in texts:
            message = f"this option repeats the one at line {texts[option.text]}"
            errors.append(ContentError(path, option.line, message))
        texts.setdefault(option.text, option.line)
    for name, part in question.parts.items():
        if name not in QUESTION_PARTS:
            allowed = ", ".join(f"'### {p.capitalize()}'" for p in QUESTION_PARTS)
            message = f"unknown part '### {part.title}': use {allowed}"
            errors.append(ContentError(path, part.line, message))
        elif not part.text.strip():
            errors.append(ContentError(path, part.line, f"'### {part.title}' is empty: write it"))
    for name in QUESTION_PARTS:
        if name not in question.parts:
            message = f"add a '### {name.capitalize()}' part to this question"
            errors.append(ContentError(path, question.line, message))
    prediction_check(question, errors)
    code_blocks_check(path, question.blocks, errors)
    runnable_blocks_check(path, question.blocks, None, errors)
    snippet_question_check(question, errors)


def prediction_check(question: QuestionSource, errors: list[ContentError]) -> None:
    """A 'sets: [predict]' question: which lab asks it, and which outcome each option means."""
    path, meta, lines = question.path, question.meta, question.key_lines
    fallback = min(lines.values(), default=question.line)
    sets = meta.get("sets")
    predict = isinstance(sets, list) and "predict" in sets
    lab, observes = meta.get("lab"), meta.get("observes")
    if not predict:
        for key in ("lab", "observes"):
            if key in meta:
                message = f"'{key}' is for a prediction: add 'predict' to 'sets', or remove it"
                errors.append(ContentError(path, lines.get(key, fallback), message))
        return
    for key in ("lab", "observes"):
        if key not in meta:
            errors.append(ContentError(path, fallback, f"a 'predict' question needs '{key}:'"))
    predicting = {kind: lab_kind for kind, lab_kind in LAB_KINDS.items() if lab_kind.outcomes}
    outcomes = None
    if isinstance(lab, str):
        if lab in predicting:
            outcomes = predicting[lab].outcomes
        else:
            message = f"'lab' must be a lab that asks predictions ({', '.join(predicting)}), "
            errors.append(ContentError(path, lines.get("lab", fallback), message + f"not '{lab}'"))
    options = question.options
    if isinstance(observes, list):
        if len(observes) != len(options):
            message = (
                f"'observes' needs one outcome per option, in order: {len(options)} options, "
                f"{len(observes)} outcomes"
            )
            errors.append(ContentError(path, lines.get("observes", fallback), message))
        for code in observes:
            if not isinstance(code, str):
                message = f"each outcome in 'observes' is text: quote it, like \"{shown(code)}\""
                errors.append(ContentError(path, lines.get("observes", fallback), message))
            elif outcomes is not None and code not in outcomes:
                message = f"'{lab}' has no outcome '{code}': use one of {', '.join(outcomes)}"
                errors.append(ContentError(path, lines.get("observes", fallback), message))
    # 'type: single' already asks for exactly one option marked '- [x]'.
    if meta.get("type") == "multiple":
        message = (
            "a 'predict' question takes one answer, the outcome you expect: use 'type: single' "
            "and mark that one option '- [x]'"
        )
        errors.append(ContentError(path, lines.get("type", fallback), message))


def course_check(course: CourseSource, slugs: set[str], errors: list[ContentError],
                 context: tuple = ()) -> None:  # fmt: skip
    course_file = course.path / "course.yaml"
    _typed_keys(course.meta, course.key_lines, 1, course_file, COURSE_KEYS, ("title",), errors,
                "course file")  # fmt: skip
    orders: dict[int, str] = {}
    # What a lesson's own checks depend on besides its files (with ``context``, the slugs and
    # the labs): an unchanged lesson in an unchanged context keeps the errors it had. The rules
    # across lessons, here and in content_check, always run.
    context = (*context, tuple(sorted(lesson.path.name for lesson in course.lessons)))
    for lesson in course.lessons:
        if lesson.checked is None or lesson.checked[0] != context:
            lesson.checked = (context, _lesson_errors(lesson, course, slugs))
        errors.extend(lesson.checked[1])
        order = lesson.meta.get("order")
        if isinstance(order, int) and order in orders:
            message = f"'order: {order}' is also the order of {orders[order]}: make each unique"
            errors.append(ContentError(lesson.path, lesson.key_lines.get("order", 2), message))
        if isinstance(order, int):
            orders.setdefault(order, lesson.path.name)
    prerequisites_loop_check(course, errors)


def _lesson_errors(
    lesson: LessonSource, course: CourseSource, slugs: set[str]
) -> list[ContentError]:
    """The rules about one lesson and its questions, given its course's files and the slugs."""
    errors: list[ContentError] = []
    lesson_check(lesson, course, slugs, errors)
    for question in lesson.questions:
        question_check(question, errors)
        links_check(question.path, question.lines, question.line + 1, course, slugs, errors)
    return errors


def labs_digest() -> str:
    """A hash of what the registry says of each lab that lessons and questions use."""
    labs = {
        kind: [lab.title, lab.url_name, lab.summary, sorted(lab.outcomes),
               {name: goal.description for name, goal in lab.goals.items()}]
        for kind, lab in LAB_KINDS.items()
    }  # fmt: skip
    return _digest(labs)


def _digest(data: object) -> str:
    return hashlib.blake2b(json.dumps(data, sort_keys=True).encode()).hexdigest()


def prerequisites_loop_check(course: CourseSource, errors: list[ContentError]) -> None:
    """A lesson must not need itself, through any chain of prerequisites."""
    needs = {
        lesson.meta.get("slug"): [item for item in lesson.meta.get("prerequisites") or []
                                  if isinstance(item, str)]
        for lesson in course.lessons
        if isinstance(lesson.meta.get("prerequisites"), list)
    }  # fmt: skip
    for lesson in course.lessons:
        slug = lesson.meta.get("slug")
        path = _needs_path(slug, needs)
        if path:
            message = f"the prerequisites go round in a loop: {' → '.join(path)}: break it"
            line = lesson.key_lines.get("prerequisites", 2)
            errors.append(ContentError(lesson.path, line, message))


def _needs_path(start: object, needs: dict) -> list[str]:
    """The chain of prerequisites from ``start`` back to itself, or [] if there is none."""
    stack, seen = [(start, [start])], set()
    while stack:
        slug, path = stack.pop()
        for needed in needs.get(slug, []):
            if needed == start:
                return [*path, needed]
            if needed not in seen:
                seen.add(needed)
                stack.append((needed, [*path, needed]))
    return []


def content_check(courses: list[CourseSource], errors: list[ContentError]) -> None:
    """Every rule, over every course: slugs and question ids must be unique site-wide."""
    lesson_paths: dict[str, Path] = {}
    for lesson in (lesson for course in courses for lesson in course.lessons):
        slug = lesson.meta.get("slug")
        if not isinstance(slug, str):
            continue
        if slug in lesson_paths:
            message = f"slug '{slug}' is already used by {lesson_paths[slug]}: choose another"
            errors.append(ContentError(lesson.path, lesson.key_lines.get("slug", 2), message))
        lesson_paths.setdefault(slug, lesson.path)
    question_places: dict[str, str] = {}
    context = (_digest(sorted(lesson_paths)), labs_digest())
    for course in courses:
        for question in (q for lesson in course.lessons for q in lesson.questions):
            qid = question.meta.get("id")
            if not isinstance(qid, str):
                continue
            if qid in question_places:
                message = f"question id '{qid}' is already used at {question_places[qid]}"
                errors.append(
                    ContentError(
                        question.path, question.key_lines.get("id", question.line), message
                    )
                )
            question_places.setdefault(qid, f"{question.path}:{question.line}")
        course_check(course, set(lesson_paths), errors, context)
