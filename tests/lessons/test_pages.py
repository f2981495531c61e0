import pytest

from authoring.content import ContentInvalid, content_load
from lessons.body import lesson_body_rendered
from lessons.models import Lesson
from tests.authoring.factory import line_of, make_lesson

pytestmark = pytest.mark.django_db


def test_a_lesson_page_renders_its_markdown(client, tmp_path):
    why = "A `send_mail()` call waits.\n\n```python\nprint('hi')\n```"
    make_lesson(tmp_path / "course", slug="why", order=1, sections={"Why": why})
    content_load(root=tmp_path)

    response = client.get("/lessons/why/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h2 id="why">Why</h2>' in html
    assert "<code>send_mail()</code>" in html
    assert 'class="highlight"' in html  # Pygments ran at load time


def test_an_unknown_lesson_is_a_404(client):
    assert client.get("/lessons/nope/").status_code == 404


def test_the_lessons_address_alone_leads_to_the_course_list(client):
    response = client.get("/lessons/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_script_in_a_content_file_is_rendered_inert(client, tmp_path):
    hostile = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
        "[click](javascript:alert(3))\n"
    )
    make_lesson(tmp_path / "course", slug="hostile", order=1, sections={"Concept": hostile})
    content_load(root=tmp_path)
    sections = lesson_body_rendered(lesson=Lesson.objects.get(slug="hostile")).sections
    stored = "".join(part.get("html", "") for section in sections for part in section["parts"])
    assert ">click</a>" in stored  # the link stays, without its script
    assert "<script" not in stored and "onerror" not in stored and "javascript:" not in stored


def test_a_broken_file_loads_nothing_and_names_file_and_line(tmp_path):
    make_lesson(tmp_path / "course", slug="good", order=1)
    content_load(root=tmp_path)
    make_lesson(tmp_path / "course", slug="new", order=2)
    broken = make_lesson(tmp_path / "course", slug="broken", order=3, front={"colour": "red"})

    with pytest.raises(ContentInvalid) as raised:
        content_load(root=tmp_path)
    assert f"{broken}:{line_of(broken, 'colour:')}: unknown key 'colour'" in str(raised.value)
    assert list(Lesson.objects.values_list("slug", flat=True)) == ["good"]
