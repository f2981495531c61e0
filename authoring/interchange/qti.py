"""IMS QTI 1.2 (ims_qtiasiv1p2), the version Canvas imports ("QTI .zip file" in a course
import): a content package, a zip of ``imsmanifest.xml`` naming one ``imsqti_xmlv1p2``
resource, the assessment. Items are laid out as Canvas writes them: ``question_type`` in the
item metadata, a ``response_lid`` with one ``response_label`` per option, a score of 100 for the
right choice (or the right set), and each option's feedback as an ``itemfeedback``.

Export only: texts are rendered to HTML once, by the site's own markdown renderer.
"""

import io
import xml.etree.ElementTree as ET
import zipfile

from lessons.markdown import markdown_render, markdown_render_inline

from .questions import Question, question_text

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
QTI_SCHEMA = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
RESOURCE_TYPE = "imsqti_xmlv1p2"
KEYS = "abcdefghijklmnopqrstuvwxyz"
CANVAS_TYPES = {"single": "multiple_choice_question", "multiple": "multiple_answers_question"}


def qti_render(questions: list[Question], *, ident: str, title: str) -> bytes:
    """A zip Canvas imports: the manifest and one assessment holding ``questions``."""
    assessment_file = f"{ident}.xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("imsmanifest.xml", _xml(_manifest(ident, assessment_file)))
        package.writestr(assessment_file, _xml(qti_assessment(questions, ident=ident, title=title)))
    return buffer.getvalue()


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _manifest(ident: str, assessment_file: str) -> ET.Element:
    manifest = ET.Element("manifest", identifier=f"{ident}-manifest", xmlns=CP_NS)
    metadata = ET.SubElement(manifest, "metadata")
    ET.SubElement(metadata, "schema").text = "IMS Content"
    ET.SubElement(metadata, "schemaversion").text = "1.1.3"
    ET.SubElement(manifest, "organizations")
    resources = ET.SubElement(manifest, "resources")
    resource = ET.SubElement(resources, "resource", identifier=ident, type=RESOURCE_TYPE,
                             href=assessment_file)  # fmt: skip
    ET.SubElement(resource, "file", href=assessment_file)
    return manifest


def qti_assessment(questions: list[Question], *, ident: str, title: str) -> ET.Element:
    namespaces = {"xmlns": QTI_NS, "xmlns:xsi": XSI_NS}
    root = ET.Element("questestinterop", namespaces)
    root.set("xsi:schemaLocation", f"{QTI_NS} {QTI_SCHEMA}")
    assessment = ET.SubElement(root, "assessment", ident=ident, title=title)
    section = ET.SubElement(assessment, "section", ident="root_section")
    for q in questions:
        _item(section, q)
    return root


def _item(section: ET.Element, q: Question) -> None:
    item = ET.SubElement(section, "item", ident=f"q-{q.id}", title=q.title)
    fields = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    for label, entry in (("question_type", CANVAS_TYPES[q.type]), ("points_possible", "1.0")):
        field = ET.SubElement(fields, "qtimetadatafield")
        ET.SubElement(field, "fieldlabel").text = label
        ET.SubElement(field, "fieldentry").text = entry
    presentation = ET.SubElement(item, "presentation")
    _material(presentation, markdown_render(question_text(q)))
    cardinality = "Single" if q.type == "single" else "Multiple"
    response = ET.SubElement(presentation, "response_lid", ident="response1",
                             rcardinality=cardinality)  # fmt: skip
    choices = ET.SubElement(response, "render_choice")
    keys = KEYS[: len(q.options)]
    for key, option in zip(keys, q.options, strict=True):
        label = ET.SubElement(choices, "response_label", ident=key)
        _material(label, markdown_render_inline(option.text))

    processing = ET.SubElement(item, "resprocessing")
    outcomes = ET.SubElement(processing, "outcomes")
    ET.SubElement(outcomes, "decvar", maxvalue="100", minvalue="0", varname="SCORE",
                  vartype="Decimal")  # fmt: skip
    general = _condition(processing, "Yes", "general_fb")
    ET.SubElement(general, "other")
    for key, option in zip(keys, q.options, strict=True):
        if option.feedback:
            ET.SubElement(_condition(processing, "Yes", f"{key}_fb"), "varequal",
                          respident="response1").text = key  # fmt: skip
    right = _condition(processing, "No", None)
    if q.type == "single":
        key = next(k for k, option in zip(keys, q.options, strict=True) if option.correct)
        ET.SubElement(right, "varequal", respident="response1").text = key
    else:
        both = ET.SubElement(right, "and")
        for key, option in zip(keys, q.options, strict=True):
            parent = both if option.correct else ET.SubElement(both, "not")
            ET.SubElement(parent, "varequal", respident="response1").text = key
    score = ET.SubElement(processing[-1], "setvar", action="Set", varname="SCORE")
    score.text = "100"

    solution = f"{q.solution}\n\n**Quick check:** {q.quick_check}"
    _feedback(item, "general_fb", markdown_render(solution))
    for key, option in zip(keys, q.options, strict=True):
        if option.feedback:
            _feedback(item, f"{key}_fb", markdown_render(option.feedback))


def _condition(processing: ET.Element, go_on: str, feedback: str | None) -> ET.Element:
    """A respcondition; returns its conditionvar, which the caller fills in."""
    condition = ET.SubElement(processing, "respcondition", {"continue": go_on})
    variable = ET.SubElement(condition, "conditionvar")
    if feedback:
        ET.SubElement(condition, "displayfeedback", feedbacktype="Response", linkrefid=feedback)
    return variable


def _material(parent: ET.Element, html: str) -> None:
    material = ET.SubElement(parent, "material")
    ET.SubElement(material, "mattext", texttype="text/html").text = html


def _feedback(item: ET.Element, ident: str, html: str) -> None:
    feedback = ET.SubElement(item, "itemfeedback", ident=ident)
    _material(ET.SubElement(feedback, "flow_mat"), html)
