"""GIFT, Moodle's text format for questions, as Moodle's own reader and writer have it
(question/format/gift/format.php): questions apart by blank lines, ``//`` comments (where
``[id:...]`` and ``[tag:...]`` are the idnumber and tags), ``::name::``, a ``[markdown]`` text
format, options in braces (``=right ~wrong``, or ``~%50%`` weights for several right answers),
``#feedback`` after an option and ``####`` general feedback last. ``\\`` escapes ``~ = # { } :``
and itself, and ``\\n`` is a new line: every text is written on one line, as Moodle writes it.
"""

import re
from pathlib import Path

from ..sources import ContentError
from .questions import (
    Imported,
    Option,
    Question,
    general_feedback,
    option_weights,
    question_tags,
    question_text,
)

SPECIAL = re.compile(r"([\\~=#{}:])")
ESCAPED = re.compile(r"\\([\\~=#{}:n])")
# Escaped characters stand in as private-use characters while the structure is read.
HIDDEN = {char: chr(0xE000 + index) for index, char in enumerate("\\~=#{}:n")}
SHOWN = str.maketrans({hidden: "\n" if char == "n" else char for char, hidden in HIDDEN.items()})
WEIGHT = re.compile(r"^%(-?\d+(?:\.\d*)?)%")
FORMAT = re.compile(r"^\[(moodle|html|plain|markdown)\]")
ID_COMMENT = re.compile(r"\[id:((?:\\\]|[^\]\x00-\x1f])+)\]")
TAG_COMMENT = re.compile(r"\[tag:((?:\\\]|[^\]<>`\x00-\x1f])+)\]")
TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}


def gift_render(questions: list[Question]) -> str:
    return "\n\n".join(_question_gift(question) for question in questions) + "\n"


def _question_gift(q: Question) -> str:
    tags = "".join(f" [tag:{tag}]" for tag in question_tags(q))
    lines = [
        f"// [id:{q.id}]{tags}",
        f"::{_escape(q.title)}::[markdown]{_escape(question_text(q))}{{",
    ]
    for option, weight in zip(q.options, option_weights(q), strict=True):
        mark = ("=" if option.correct else "~") if q.type == "single" else f"~%{weight}%"
        feedback = f"#{_escape(option.feedback)}" if option.feedback else ""
        lines.append(f"\t{mark}{_escape(option.text)}{feedback}")
    lines += [f"\t####{_escape(general_feedback(q, hints=True))}", "}"]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return SPECIAL.sub(r"\\\1", text).replace("\r", "").replace("\n", "\\n")


class _Invalid(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def gift_parse(text: str, *, path: Path, errors: list[ContentError]) -> list[Imported]:
    """The questions of a GIFT file; each one that cannot be read is an error at its line."""
    questions = []
    for first_line, lines in _blocks(text):
        try:
            question = _question_read(first_line, lines)
        except _Invalid as invalid:
            errors.append(ContentError(path, invalid.line, str(invalid)))
            continue
        if question is not None:
            questions.append(question)
    return questions


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """The lines of each question, with the number of its first line: blank lines part them."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line)
        else:
            current = []
    return blocks


def _question_read(first_line: int, lines: list[str]) -> Imported | None:
    comments = "\n".join(line for line in lines if line.strip().startswith("//"))
    body = "\n".join("" if line.strip().startswith("//") else line for line in lines)
    body = ESCAPED.sub(lambda match: HIDDEN[match.group(1)], body)
    if not body.strip() or body.strip().startswith("$CATEGORY:"):
        return None
    line = first_line + body.count("\n", 0, len(body) - len(body.lstrip()))

    def line_of(position: int) -> int:
        return first_line + body.count("\n", 0, position)

    start = len(body) - len(body.lstrip())
    name = ""
    if body.startswith("::", start):
        end = body.find("::", start + 2)
        if end == -1:
            raise _Invalid(
                line, "the question's name has no closing '::' (write '\\:' for a colon)"
            )
        name, start = body[start + 2 : end], end + 2
    opening, closing = body.find("{", start), body.find("}", start)
    if opening == -1 and closing == -1:
        message = (
            "no options in braces: learnsite imports multiple-choice questions, {=right ~wrong}"
        )
        raise _Invalid(line, message)
    if closing == -1:
        message = "this '{' is never closed with '}' (write '\\{' and '\\}' for braces in text)"
        raise _Invalid(line_of(opening), message)
    if opening == -1 or closing < opening:
        message = "a '}' without its '{' (write '\\{' and '\\}' for braces in text)"
        raise _Invalid(line_of(closing), message)
    after = body[closing + 1 :].strip()
    # As Moodle reads it: text after the braces makes them a blank in the sentence.
    question_text = body[start:opening] + ("_____" + body[closing + 1 :] if after else "")
    answers, separator, general = body[opening + 1 : closing].rpartition("####")
    if not separator:
        answers, general = general, ""
    options, single = _options(answers.strip(), line_of(opening))
    return Imported(
        line=line,
        name=_shown(name),
        text=_shown(FORMAT.sub("", question_text.strip())),
        options=options,
        single=single,
        general=_shown(FORMAT.sub("", general.strip())),
        idnumber=_unescape_bracket((ID_COMMENT.findall(comments) or [""])[0]),
        tags=[_unescape_bracket(tag) for tag in TAG_COMMENT.findall(comments)],
    )


def _options(answers: str, line: int) -> tuple[list[Option], bool]:
    """The options in the braces, the way Moodle tells question types apart."""
    check = answers.split("#", 1)[0].strip()
    if check in TRUE_FALSE:
        _, wrong, right = [*answers.split("#", 2), "", ""][:3]
        true_right = TRUE_FALSE[check]
        return [
            Option("True", true_right, _shown(right if true_right else wrong)),
            Option("False", not true_right, _shown(wrong if true_right else right)),
        ], True
    kind = (
        "an essay" if not answers
        else "a numerical" if answers.startswith("#")
        else None if "~" in answers
        else "a matching" if "=" in answers and "->" in answers
        else "a short-answer"
    )  # fmt: skip
    if kind:
        message = f"{kind} question: learnsite imports multiple-choice and true/false questions"
        raise _Invalid(line, message)
    single = "=" in answers
    pieces = [piece.strip() for piece in answers.replace("=", "~=").split("~")]
    if not pieces[0]:
        pieces.pop(0)
    if len(pieces) < 2:
        raise _Invalid(line, "give at least two options")
    options = []
    for piece in pieces:
        weight, rest = 0.0, piece
        if piece.startswith("="):
            weight, rest = 100.0, piece[1:]
        elif match := WEIGHT.match(piece):
            weight, rest = float(match.group(1)), piece[match.end() :]
        if single and 0 < weight < 100:
            message = (
                f"a partial weight ({weight:g}%) in a one-answer question: learnsite grades "
                "one answer right or wrong, so make each option '=' or '~'"
            )
            raise _Invalid(line, message)
        option_text, _, feedback = rest.partition("#")
        option_text = " ".join(
            part.strip() for part in _shown(FORMAT.sub("", option_text.strip())).splitlines()
        )
        options.append(Option(option_text, weight > 0, _shown(FORMAT.sub("", feedback.strip()))))
    return options, single


def _shown(text: str) -> str:
    return text.translate(SHOWN).strip()


def _unescape_bracket(text: str) -> str:
    return text.replace("\\]", "]").strip()
