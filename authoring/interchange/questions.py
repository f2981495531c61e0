"""The question every interchange format maps to and from, read from a questions file through
the authoring parser and written back as one.

Exports read the files, not the database: the files hold the markdown the author wrote, the
ids and the sets, where the database holds rendered HTML. So export, import and export again
gives the same file, and the imported question is the same question (the same content hash).

Every format keeps what GIFT and Moodle have no field for in two places Moodle does keep:
- tags (GIFT ``// [tag:...]`` comments, Moodle XML ``<tags>``): the difficulty, the sets, partial
  credit and a prediction's lab and outcomes; the id is Moodle's idnumber;
- the general feedback, which Moodle shows once a question is answered: the solution, quick
  check and common mistakes (and, in GIFT, the hints) under their ``### `` headings, as the
  questions file has them.
"""

from dataclasses import dataclass, field
from pathlib import Path

from django.utils.text import slugify

from ..checks import DIFFICULTIES, QUESTION_SETS, SLUG
from ..sources import H3, ContentError, QuestionSource, Section, list_items, split_sections

PARTS = {"solution": "Solution", "quick check": "Quick check", "hints": "Hints",
         "common mistakes": "Common mistakes"}  # fmt: skip
PLACEHOLDER = "Write this part: the imported question had none."


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    difficulty: str
    type: str  # "single" or "multiple"
    sets: tuple[str, ...]
    partial_credit: bool
    lab: str
    observes: tuple[str, ...]
    prompt: str
    options: tuple[Option, ...]
    solution: str
    quick_check: str
    hints: tuple[str, ...]
    mistakes: str


@dataclass
class Imported:
    """One multiple-choice question as a GIFT or Moodle XML file has it, before it is mapped."""

    line: int
    name: str
    text: str  # the question text: our exports write the title, a blank line, then the prompt
    options: list[Option]
    single: bool
    general: str  # the general feedback
    hints: list[str] = field(default_factory=list)
    idnumber: str = ""
    tags: list[str] = field(default_factory=list)


def question_from_source(source: QuestionSource) -> Question:
    """A question as the authoring parser read it (from a file that passes content_check)."""
    meta, parts = source.meta, source.parts
    return Question(
        id=meta["id"],
        title=source.title,
        difficulty=meta["difficulty"],
        type=meta["type"],
        sets=tuple(meta.get("sets", [])),
        partial_credit=bool(meta.get("partial_credit", False)),
        lab=meta.get("lab", ""),
        observes=tuple(meta.get("observes", [])),
        prompt=source.prompt,
        options=tuple(Option(o.text, o.correct, o.feedback) for o in source.options),
        solution=parts["solution"].text.strip(),
        quick_check=parts["quick check"].text.strip(),
        hints=tuple(list_items(parts["hints"])),
        mistakes=parts["common mistakes"].text.strip(),
    )


def questions_markdown(questions: list[Question]) -> str:
    """A questions file (content/README.md, "A questions file") holding ``questions``."""
    return "\n".join(_question_markdown(question) for question in questions)


def _question_markdown(q: Question) -> str:
    meta = [f"id: {q.id}", f"difficulty: {q.difficulty}", f"type: {q.type}"]
    if q.sets:
        meta.append(f"sets: [{', '.join(q.sets)}]")
    if q.partial_credit:
        meta.append("partial_credit: true")
    if q.lab:
        meta.append(f"lab: {q.lab}")
    if q.observes:
        meta.append("observes: [" + ", ".join(f'"{code}"' for code in q.observes) + "]")
    out = [f"## {q.title}", "", "```question", *meta, "```", ""]
    if q.prompt:
        out += [q.prompt, ""]
    for option in q.options:
        out.append(f"- [{'x' if option.correct else ' '}] {option.text}")
        out += [f"  > {line}".rstrip() for line in option.feedback.splitlines()]
    for name, title in PARTS.items():
        out += ["", f"### {title}", "", _part_text(q, name)]
    return "\n".join(out) + "\n"


def _part_text(q: Question, name: str) -> str:
    if name == "hints":
        return "\n".join("- " + hint.replace("\n", "\n  ") for hint in q.hints)
    return {"solution": q.solution, "quick check": q.quick_check,
            "common mistakes": q.mistakes}[name]  # fmt: skip


def question_text(q: Question) -> str:
    """What Moodle shows as the question: the heading, then the text under it."""
    return f"{q.title}\n\n{q.prompt}" if q.prompt else q.title


def general_feedback(q: Question, *, hints: bool) -> str:
    """The parts, under their headings; the hints only where the format has no field for them."""
    names = [name for name in PARTS if hints or name != "hints"]
    return "\n\n".join(f"### {PARTS[name]}\n\n{_part_text(q, name)}" for name in names)


def question_tags(q: Question) -> list[str]:
    tags = [f"difficulty:{q.difficulty}", *(f"set:{name}" for name in q.sets)]
    if q.partial_credit:
        tags.append("partial-credit")
    if q.lab:
        tags += [f"lab:{q.lab}", "observes:" + " ".join(q.observes)]
    return tags


def option_weights(q: Question) -> list[str]:
    """Moodle's grade of each option, in percent: the right ones share 100. A wrong one takes
    a share back with partial credit (as quiz.services.grade does) and everything without."""
    right = sum(option.correct for option in q.options)
    share = _percent(100 / right)
    wrong = f"-{share}" if q.partial_credit else "-100"
    return [share if option.correct else wrong for option in q.options]


def _percent(value: float) -> str:
    """As Moodle writes a grade: at most 5 decimals (33.33333), none when whole (50)."""
    return f"{value:.5f}".rstrip("0").rstrip(".")


def questions_from_imported(items: list[Imported], *, path: Path, difficulty: str,
                            notes: list[ContentError]) -> list[Question]:  # fmt: skip
    """Map what a GIFT or Moodle XML file holds to questions. What a file from elsewhere lacks
    (an id, the difficulty, a part) is filled in and said in ``notes``."""
    used: set[str] = set()
    questions = []
    for item in items:
        tags = _tags_by_key(item.tags)
        title, prompt = _title_and_prompt(item.name, item.text)
        parts = _general_parts(item.general)
        if item.hints:
            parts["hints"] = "\n".join("- " + hint.replace("\n", "\n  ") for hint in item.hints)
        for name, title_of_part in PARTS.items():
            if not parts.get(name):
                parts[name] = PLACEHOLDER
                message = f"no {title_of_part.lower()} in this question: replace the placeholder"
                notes.append(ContentError(path, item.line, message))
        level = (tags.get("difficulty") or [""])[0]
        if level not in DIFFICULTIES:
            level = difficulty
            message = f"no difficulty tag (difficulty:easy|medium|hard): set to {difficulty}"
            notes.append(ContentError(path, item.line, message))
        observes = (tags.get("observes") or [""])[0].split()
        questions.append(
            Question(
                id=_unique_id(item.idnumber or slugify(title)[:60].strip("-") or "question", used),
                title=title,
                difficulty=level,
                type="single" if item.single else "multiple",
                sets=tuple(name for name in tags.get("set", []) if name in QUESTION_SETS),
                partial_credit="partial-credit" in tags,
                lab=(tags.get("lab") or [""])[0],
                observes=tuple(observes),
                prompt=prompt,
                options=tuple(item.options),
                solution=parts["solution"],
                quick_check=parts["quick check"],
                hints=tuple(list_items(Section("", 1, parts["hints"].splitlines()))),
                mistakes=parts["common mistakes"],
            )
        )
    return questions


def _tags_by_key(tags: list[str]) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = {}
    for tag in tags:
        key, _, value = tag.partition(":")
        by_key.setdefault(key.strip().lower(), []).append(value.strip())
    return by_key


def _title_and_prompt(name: str, text: str) -> tuple[str, str]:
    """Our exports write the heading as the name and as the first paragraph of the text. A
    question from elsewhere keeps its name as the heading, or its first paragraph if unnamed."""
    text = text.strip()
    name = " ".join(name.split())
    if name and (text == name or text.startswith(name + "\n\n")):
        return name, text[len(name) :].strip()
    if name:
        return name, text
    first, _, rest = text.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _general_parts(text: str) -> dict[str, str]:
    """The parts under their ``### `` headings; text before the first heading is the solution."""
    intro, sections, _, _ = split_sections(text.splitlines(), 1, H3)
    parts = {"solution": intro.text.strip()} if intro.text.strip() else {}
    for section in sections:
        name = section.title.strip().lower()
        if name in PARTS:
            parts[name] = section.text.strip()
        else:  # a heading of the solution's own, in a file from elsewhere
            own = f"### {section.title}\n\n{section.text.strip()}"
            parts["solution"] = f"{parts.get('solution', '')}\n\n{own}".strip()
    return parts


def _unique_id(wanted: str, used: set[str]) -> str:
    qid = wanted if SLUG.match(wanted) else slugify(wanted).strip("-") or "question"
    candidate, number = qid, 2
    while candidate in used:
        candidate, number = f"{qid}-{number}", number + 1
    used.add(candidate)
    return candidate
