"""Moodle XML (question/format/xml in Moodle): ``<quiz>`` of ``<question type="multichoice">``,
each with ``<name>``, ``<questiontext format="markdown">``, ``<generalfeedback>``,
``<idnumber>``, ``<single>``, ``<answer fraction="...">`` with its ``<feedback>``, a ``<hint>``
per hint and ``<tags>``. Read with defusedxml (no DTD, no entities), through SAX so that every
element keeps the line it was on for error messages.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

import defusedxml.sax
from defusedxml import DefusedXmlException

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


def moodle_xml_render(questions: list[Question]) -> str:
    quiz = ET.Element("quiz")
    for q in questions:
        question = ET.SubElement(quiz, "question", type="multichoice")
        _text(ET.SubElement(question, "name"), q.title)
        _text(ET.SubElement(question, "questiontext", format="markdown"), question_text(q))
        feedback = ET.SubElement(question, "generalfeedback", format="markdown")
        _text(feedback, general_feedback(q, hints=False))
        ET.SubElement(question, "defaultgrade").text = "1"
        ET.SubElement(question, "penalty").text = "0.3333333"
        ET.SubElement(question, "hidden").text = "0"
        ET.SubElement(question, "idnumber").text = q.id
        ET.SubElement(question, "single").text = "true" if q.type == "single" else "false"
        ET.SubElement(question, "shuffleanswers").text = "true"
        ET.SubElement(question, "answernumbering").text = "abc"
        for option, weight in zip(q.options, option_weights(q), strict=True):
            if q.type == "single":
                weight = "100" if option.correct else "0"
            answer = ET.SubElement(question, "answer", fraction=weight, format="markdown")
            _text(answer, option.text)
            _text(ET.SubElement(answer, "feedback", format="markdown"), option.feedback)
        for hint in q.hints:
            _text(ET.SubElement(question, "hint", format="markdown"), hint)
        tags = ET.SubElement(question, "tags")
        for tag in question_tags(q):
            _text(ET.SubElement(tags, "tag"), tag)
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, "unicode") + "\n"


def _text(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "text").text = text


class _LinedTree(ContentHandler):
    """An ElementTree built from SAX events, with the line each element starts on."""

    def __init__(self) -> None:
        super().__init__()
        self.builder = ET.TreeBuilder()
        self.lines: dict[ET.Element, int] = {}
        self.locator = None

    def setDocumentLocator(self, locator) -> None:
        self.locator = locator

    def startElement(self, name, attrs) -> None:
        element = self.builder.start(name, dict(attrs))
        self.lines[element] = self.locator.getLineNumber() if self.locator else 1

    def endElement(self, name) -> None:
        self.builder.end(name)

    def characters(self, content) -> None:
        self.builder.data(content)


def moodle_xml_parse(text: str, *, path: Path, errors: list[ContentError]) -> list[Imported]:
    """The questions of a Moodle XML file; what cannot be read is an error at its line."""
    tree = _LinedTree()
    try:
        defusedxml.sax.parseString(text.encode(), tree)
    except SAXException as error:
        line = error.getLineNumber() if hasattr(error, "getLineNumber") else 1
        errors.append(
            ContentError(path, line, f"this is not well-formed XML: {error.getMessage()}")
        )
        return []
    except DefusedXmlException as error:
        errors.append(ContentError(path, 1, f"this XML is refused: {error}"))
        return []
    root, lines = tree.builder.close(), tree.lines
    if root.tag != "quiz":
        errors.append(ContentError(path, lines[root], "a Moodle XML file is a <quiz> element"))
        return []
    questions = []
    for element in root.iter("question"):
        kind, line = element.get("type", ""), lines[element]
        if kind == "category":
            continue
        if kind not in ("multichoice", "truefalse"):
            message = (
                f"a {kind or 'untyped'} question: learnsite imports multiple-choice and "
                "true/false questions"
            )
            errors.append(ContentError(path, line, message))
            continue
        answers = [_answer(answer, errors, path, lines) for answer in element.iter("answer")]
        if None in answers:
            continue
        if len(answers) < 2:
            errors.append(ContentError(path, line, "give at least two <answer>s"))
            continue
        single = kind == "truefalse" or _child_text(element, "single").lower() in ("true", "1")
        if single and (
            any(0 < fraction < 100 for fraction, _ in answers)
            or sum(fraction > 0 for fraction, _ in answers) != 1
        ):
            message = (
                'a one-answer question needs one answer of fraction="100" and the others 0: '
                "learnsite grades one answer right or wrong"
            )
            errors.append(ContentError(path, line, message))
            continue
        options = [option for _, option in answers]
        questions.append(
            Imported(
                line=line,
                name=_child_text(element, "name/text"),
                text=_child_text(element, "questiontext/text"),
                options=options,
                single=single,
                general=_child_text(element, "generalfeedback/text"),
                hints=[_child_text(hint, "text") for hint in element.iter("hint")],
                idnumber=_child_text(element, "idnumber"),
                tags=[_child_text(tag, "text") for tag in element.iter("tag")],
            )
        )
    return questions


def _answer(answer: ET.Element, errors: list[ContentError], path: Path,
            lines: dict[ET.Element, int]) -> tuple[float, Option] | None:  # fmt: skip
    """An answer's fraction (percent) and the option it is: right when it earns a share."""
    try:
        fraction = float(answer.get("fraction", "0"))
    except ValueError:
        message = f'fraction="{answer.get("fraction")}" is not a number (100 is right, 0 wrong)'
        errors.append(ContentError(path, lines[answer], message))
        return None
    text = " ".join(line.strip() for line in _child_text(answer, "text").splitlines())
    return fraction, Option(text, fraction > 0, _child_text(answer, "feedback/text"))


def _child_text(element: ET.Element, path: str) -> str:
    child = element.find(path)
    return (child.text or "").strip() if child is not None else ""
