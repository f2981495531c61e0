"""Question interchange: every question of the course goes out as GIFT or Moodle XML and comes
back the same question; files in Moodle's own style import into questions files that pass
content_check; bad input is an error at its file and line, and nothing is written; the QTI
package has the structure Canvas reads."""

import io
import shutil
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from authoring.content import ContentInvalid, content_validate
from authoring.interchange.files import questions_export, questions_import
from authoring.interchange.qti import CP_NS, QTI_NS, RESOURCE_TYPE
from authoring.interchange.questions import PLACEHOLDER, question_from_source
from authoring.sources import questions_read

from .factory import make_lesson, make_questions, question_text

COURSE = settings.CONTENT_DIR / "redis-broker"
COURSES, ERRORS = content_validate(root=settings.CONTENT_DIR)
LESSONS = [lesson for course in COURSES for lesson in course.lessons if lesson.questions]
LESSON = {lesson.meta["slug"]: lesson for lesson in LESSONS}
SUFFIX = {"gift": ".gift.txt", "moodle-xml": ".xml"}


def imported(tmp_path: Path, name: str, text: str, **options) -> tuple[str, list]:
    source = tmp_path / name
    source.write_text(text)
    notes: list = []
    markdown = questions_import(path=source, difficulty="medium", notes=notes, **options)
    return markdown, notes


def read_back(tmp_path: Path, markdown: str) -> list:
    """The questions of a questions file, through the authoring parser."""
    path = tmp_path / "read-back.questions.md"
    path.write_text(markdown)
    errors: list = []
    sources = questions_read(path, errors)
    assert errors == []
    return [question_from_source(source) for source in sources]


def passes_content_check(tmp_path: Path, markdown: str) -> list:
    """The errors content_check finds in ``markdown`` as the questions of a lesson."""
    lesson = make_lesson(tmp_path / "course")
    lesson.with_name(lesson.stem + ".questions.md").write_text(markdown)
    _, errors = content_validate(root=tmp_path / "course")
    return errors


def test_the_course_has_questions_to_round_trip():
    assert ERRORS == []
    assert len(LESSONS) >= 8


@pytest.mark.parametrize("to", ["gift", "moodle-xml"])
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.meta["slug"])
def test_a_round_trip_keeps_every_question_exactly(lesson, to, tmp_path):
    exported = questions_export(lesson=lesson, to=to).decode()
    markdown, notes = imported(tmp_path, lesson.meta["slug"] + SUFFIX[to], exported)

    assert notes == []
    originals = [question_from_source(question) for question in lesson.questions]
    # Id, heading, difficulty, type, sets, partial credit, prediction, prompt, every option
    # with its right mark and feedback, solution, quick check, each hint, common mistakes.
    assert read_back(tmp_path, markdown) == originals
    again = replace(lesson, questions=questions_read(tmp_path / "read-back.questions.md", []))
    assert questions_export(lesson=again, to=to).decode() == exported


def test_the_imported_course_passes_content_check(tmp_path):
    course = shutil.copytree(COURSE, tmp_path / "content" / COURSE.name)
    for lesson, to in zip(LESSONS, ["gift", "moodle-xml"] * len(LESSONS), strict=False):
        exported = questions_export(lesson=lesson, to=to).decode()
        markdown, _ = imported(tmp_path, "lesson" + SUFFIX[to], exported)
        (course / lesson.questions_path.name).write_text(markdown)

    courses, errors = content_validate(root=tmp_path / "content")
    assert errors == []
    assert sum(len(lesson.questions) for lesson in courses[0].lessons) == sum(
        len(lesson.questions) for lesson in LESSONS
    )


# In the style of Moodle's GIFT documentation (docs.moodle.org/en/GIFT_format).
MOODLE_GIFT = """\
// question: 1  name: Grant's tomb
::Grant's tomb::Who is buried in Grant's tomb in New York City? {
=Grant
~No one
#Was true for 12 years, but Grant's remains were buried in the tomb in 1897
~Napoleon
#He was buried in France
~Churchill
#He was buried in England
}

// A question with several right answers and no name.
What two people are entombed in Grant's tomb? {
   ~%-100%No one
   ~%50%Grant
   ~%50%Grant's wife
   ~%-100%Grant's father
}

// [id:sun-rises-east] [tag:difficulty:easy] [tag:set:practice]
::The sun::The sun rises in the east.{T#No, it does rise in the east.#Right: in the east.}

::Escapes::Which answer equals 5?{
   ~ \\= 2 + 2
   = \\= 2 + 3
   ~ \\= 2 + 4
   ####The sum is written \\{ 2 + 3 \\}\\: five.
}
"""


def test_a_gift_file_in_moodle_style_imports(tmp_path):
    markdown, notes = imported(tmp_path, "moodle.gift", MOODLE_GIFT)
    tomb, two, sun, sum_ = read_back(tmp_path, markdown)

    assert (tomb.id, tomb.title) == ("grants-tomb", "Grant's tomb")
    assert tomb.prompt == "Who is buried in Grant's tomb in New York City?"
    assert tomb.type == "single" and tomb.difficulty == "medium"
    assert [(o.text, o.correct) for o in tomb.options][:2] == [("Grant", True), ("No one", False)]
    assert tomb.options[3].feedback == "He was buried in England"
    assert two.title == "What two people are entombed in Grant's tomb?" and two.prompt == ""
    assert two.type == "multiple" and not two.partial_credit
    assert [o.text for o in two.options if o.correct] == ["Grant", "Grant's wife"]
    assert (sun.id, sun.difficulty, sun.sets) == ("sun-rises-east", "easy", ("practice",))
    assert [(o.text, o.correct, o.feedback) for o in sun.options] == [
        ("True", True, "Right: in the east."),
        ("False", False, "No, it does rise in the east."),
    ]
    assert [o.text for o in sum_.options] == ["= 2 + 2", "= 2 + 3", "= 2 + 4"]
    assert sum_.solution == "The sum is written { 2 + 3 }: five."
    # What the file lacks is filled in, said, and then passes the checks.
    assert sun.hints == (PLACEHOLDER,)
    assert (
        f"{tmp_path / 'moodle.gift'}:2: no quick check in this question: replace the placeholder"
        in map(str, notes)
    )
    assert passes_content_check(tmp_path, markdown) == []


# In the style of Moodle's own XML export (docs.moodle.org/en/Moodle_XML_format).
MOODLE_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/Geography</text></category></question>
  <question type="multichoice">
    <name><text>Capitals</text></name>
    <questiontext format="html">
      <text><![CDATA[<p>Which city is the capital of France?</p>]]></text>
    </questiontext>
    <generalfeedback format="html"><text>Paris has been the capital since 987.</text>
    </generalfeedback>
    <single>true</single>
    <answer fraction="100"><text>Paris</text><feedback><text>Yes.</text></feedback></answer>
    <answer fraction="0"><text>Lyon</text><feedback><text>No.</text></feedback></answer>
    <hint format="html"><text>It is on the Seine.</text></hint>
    <tags><tag><text>difficulty:hard</text></tag></tags>
  </question>
  <question type="truefalse">
    <name><text>Rivers</text></name>
    <questiontext format="moodle_auto_format">
      <text>The Seine flows through Paris.</text>
    </questiontext>
    <answer fraction="100"><text>true</text><feedback><text>Right.</text></feedback></answer>
    <answer fraction="0"><text>false</text><feedback><text>It does.</text></feedback></answer>
  </question>
</quiz>
"""


def test_a_moodle_xml_file_imports(tmp_path):
    markdown, notes = imported(tmp_path, "moodle.xml", MOODLE_XML)
    capitals, rivers = read_back(tmp_path, markdown)

    assert (capitals.id, capitals.title, capitals.difficulty) == ("capitals", "Capitals", "hard")
    assert capitals.prompt == "<p>Which city is the capital of France?</p>"
    assert [(o.text, o.correct, o.feedback) for o in capitals.options] == [
        ("Paris", True, "Yes."),
        ("Lyon", False, "No."),
    ]
    assert capitals.solution == "Paris has been the capital since 987."
    assert capitals.hints == ("It is on the Seine.",)
    assert [(o.text, o.correct) for o in rivers.options] == [("true", True), ("false", False)]
    assert (rivers.type, rivers.difficulty) == ("single", "medium")
    assert (
        f"{tmp_path / 'moodle.xml'}:17: no solution in this question: replace the placeholder"
        in map(str, notes)
    )
    assert passes_content_check(tmp_path, markdown) == []


def import_errors(tmp_path: Path, name: str, text: str) -> list[str]:
    with pytest.raises(ContentInvalid) as invalid:
        imported(tmp_path, name, text)
    return [f"{error.path.name}:{error.line}" for error in invalid.value.errors]


def test_malformed_gift_is_an_error_at_its_line(tmp_path):
    text = "::A::Fine?{=yes ~no}\n\n// a comment\n::B::Broken?{\n=yes\n~no\n\n::C::Short?{=word}\n"
    untitled = "::A::Fine?{=yes ~no}\n\n{=yes ~no}\n"

    assert import_errors(tmp_path, "bad.gift", text) == ["bad.gift:4", "bad.gift:8"]
    assert import_errors(tmp_path, "untitled.gift", untitled) == ["untitled.gift:3"]


def test_malformed_moodle_xml_is_an_error_at_its_line(tmp_path):
    broken = '<?xml version="1.0"?>\n<quiz>\n  <question type="multichoice">\n    <name>\n</quiz>\n'
    two_right = (
        '<quiz>\n<question type="multichoice"><single>true</single>\n'
        '<answer fraction="100"><text>a</text></answer>\n'
        '<answer fraction="100"><text>b</text></answer>\n</question>\n'
        '\n<question type="essay"/></quiz>\n'
    )
    bomb = '<?xml version="1.0"?>\n<!DOCTYPE q [<!ENTITY a "aaaa">]>\n<quiz>&a;</quiz>\n'

    assert import_errors(tmp_path, "broken.xml", broken) == ["broken.xml:5"]
    assert import_errors(tmp_path, "two.xml", two_right) == ["two.xml:2", "two.xml:7"]
    assert len(import_errors(tmp_path, "bomb.xml", bomb)) == 1


def test_the_import_command_writes_nothing_on_an_error(tmp_path):
    source, output = tmp_path / "bad.gift", tmp_path / "out.questions.md"
    source.write_text("::A::Fine?{=yes ~no}\n\n::B::Broken?{=yes ~no\n")
    errors = io.StringIO()

    with pytest.raises(CommandError):
        call_command("questions_import", str(source), "--output", str(output), stderr=errors)
    assert f"{source}:3: this '{{' is never closed" in errors.getvalue()
    assert list(tmp_path.iterdir()) == [source]


def test_the_commands_export_and_import_through_files(tmp_path):
    exported, markdown = tmp_path / "lesson.xml", tmp_path / "lesson.questions.md"
    call_command("questions_export", "offloading-slow-work", "--format", "moodle-xml",
                 "--output", str(exported), stderr=io.StringIO())  # fmt: skip
    call_command("questions_import", str(exported), "--output", str(markdown),
                 stderr=io.StringIO())  # fmt: skip

    lesson = LESSON["offloading-slow-work"]
    assert read_back(tmp_path, markdown.read_text()) == [
        question_from_source(question) for question in lesson.questions
    ]
    with pytest.raises(CommandError, match="exists"):
        call_command("questions_import", str(exported), "--output", str(markdown))


def test_an_export_refuses_a_lesson_with_errors(tmp_path):
    lesson = make_lesson(tmp_path / "course", slug="broken")
    questions = make_questions(lesson, question_text(meta={"difficulty": "tricky"}))
    errors = io.StringIO()

    with pytest.raises(CommandError, match="content_check"):
        call_command("questions_export", "broken", "--format", "gift",
                     "--content", str(tmp_path), stderr=errors)  # fmt: skip
    assert f"{questions}:5: 'difficulty' must be one of" in errors.getvalue()


def test_qti_is_a_package_canvas_reads(tmp_path):
    lesson = LESSON["when-tasks-fail"]
    package = zipfile.ZipFile(io.BytesIO(questions_export(lesson=lesson, to="qti")))
    manifest = ET.fromstring(package.read("imsmanifest.xml"))
    resource = manifest.find(f"{{{CP_NS}}}resources/{{{CP_NS}}}resource")
    assessment = ET.fromstring(package.read(resource.get("href")))
    ns = {"q": QTI_NS}
    items = assessment.findall("q:assessment/q:section/q:item", ns)

    assert manifest.tag == f"{{{CP_NS}}}manifest" and resource.get("type") == RESOURCE_TYPE
    assert assessment.tag == f"{{{QTI_NS}}}questestinterop"
    assert len(items) == len(lesson.questions)
    for item, question in zip(items, lesson.questions, strict=True):
        labels = item.findall("q:presentation/q:response_lid/q:render_choice/q:response_label", ns)
        scored = item.find("q:resprocessing/q:respcondition[q:setvar]/q:conditionvar", ns)
        picked = [
            element.text for element in scored.iter(f"{{{QTI_NS}}}varequal")
            if element not in {inner for nots in scored.iter(f"{{{QTI_NS}}}not") for inner in nots}
        ]  # fmt: skip
        kind = item.find("q:itemmetadata/q:qtimetadata/q:qtimetadatafield/q:fieldentry", ns).text
        assert item.get("ident") == f"q-{question.meta['id']}"
        assert len(labels) == len(question.options)
        assert picked == [
            label.get("ident") for label, option in zip(labels, question.options, strict=True)
            if option.correct
        ]  # fmt: skip
        assert kind == {"single": "multiple_choice_question",
                        "multiple": "multiple_answers_question"}[question.meta["type"]]  # fmt: skip
