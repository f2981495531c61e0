"""Staff pages of the quiz: the statistics that quiz/stats.py stored, and the gradebook
(quiz/gradebook.py), each as a page and as CSV.

The pages only read stored statistics; a refresh runs in the worker after finished attempts.
"""

import csv
import html

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Max, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import strip_tags
from django.views.decorators.http import require_GET

from learnsite.htmx import HtmxHttpRequest
from lessons.models import Lesson

from .gradebook import COMPLETE_PERCENT, gradebook_rows
from .models import LessonStats, Question, QuestionVersion, QuestionVersionStats

# The option chart, in SVG user units; the SVG scales to its container's width, so on a phone
# a row is still about 30 px high with 13 px text.
CHART_WIDTH = 340
CHART_ROW = 30
CHART_BAR = 18
CHART_LABEL = 48  # "a ✓" before the bar
CHART_BAR_MAX = 190  # a bar for 100% of the answers, leaving room for "10000 (100%)"

FLAG_LABELS = {
    "too_easy": "Too easy",
    "too_hard": "Too hard",
    "unused_distractor": "Option nobody picks",
    "popular_distractor": "Wrong option beats the right one",
}

CSV_HEADER = [
    "course",
    "lesson",
    "question",
    "version",
    "current",
    "retired",
    "difficulty",
    "kind",
    "title",
    "answers",
    "correct",
    "percent_correct",
    "discrimination",
    "option_counts",
    "flags",
    "computed_at",
]


def plain_text(fragment: str) -> str:
    """Rendered content HTML as plain text, for SVG labels and CSV cells."""
    return " ".join(html.unescape(strip_tags(fragment)).split())


def option_chart(*, version: QuestionVersion, stats: QuestionVersionStats | None) -> dict:
    """The geometry and texts of a version's option bar chart."""
    answers = stats.answers if stats else 0
    counts = stats.option_counts if stats else {}
    bars, described = [], []
    for row, option in enumerate(version.options):
        count = counts.get(option["key"], 0)
        percent = round(100 * count / answers) if answers else 0
        right = option["correct"]
        y = row * CHART_ROW
        width = round(CHART_BAR_MAX * count / answers, 1) if answers else 0
        label = f"{option['key']}{', right answer' if right else ''}: {count} ({percent}%)"
        bars.append({
            "key": option["key"], "right": right, "count": count, "percent": percent,
            "html": option["html"], "width": width, "value_x": CHART_LABEL + width + 6,
            "bar_y": y + (CHART_ROW - CHART_BAR) / 2, "text_y": y + CHART_ROW / 2 + 4.5,
        })  # fmt: skip
        described.append(label)
    return {
        "id": f"chart-v{version.pk}",
        "width": CHART_WIDTH,
        "height": max(1, len(bars)) * CHART_ROW,
        "bar_x": CHART_LABEL,
        "bar_height": CHART_BAR,
        "bars": bars,
        "desc": f"{answers} answer{'s' if answers != 1 else ''}. " + "; ".join(described) + ".",
    }


def _lesson_questions(lesson: Lesson) -> list[Question]:
    versions = QuestionVersion.objects.select_related("stats").order_by("-number")
    questions = list(
        lesson.questions.select_related("stats", "current_version").prefetch_related(
            Prefetch("versions", queryset=versions)
        )
    )
    for question in questions:
        question.numbers = getattr(question, "stats", None)  # None before the first refresh
        for version in question.versions.all():
            version.numbers = getattr(version, "stats", None)
            version.flag_rows = [
                flag | {"label": FLAG_LABELS.get(flag["code"], flag["code"])}
                for flag in (version.numbers.flags if version.numbers else [])
            ]
            version.chart = option_chart(version=version, stats=version.numbers)
    return questions


@require_GET
@staff_member_required
def quiz_stats(request: HtmxHttpRequest) -> HttpResponse:
    """Lessons with their completion and test scores; one lesson's questions in detail."""
    lessons = list(Lesson.objects.select_related("course", "quiz_stats"))
    for item in lessons:
        item.numbers = getattr(item, "quiz_stats", None)
    slug = request.GET.get("lesson")
    if slug:
        lesson = get_object_or_404(Lesson, slug=slug)
    else:
        lesson = next((item for item in lessons if not item.retired), None)
    context = {
        "lessons": lessons,
        "lesson": lesson,
        "questions": _lesson_questions(lesson) if lesson else [],
        "computed_at": LessonStats.objects.aggregate(latest=Max("computed_at"))["latest"],
    }
    template = "quiz/staff_quiz.html"
    if request.htmx:
        template += "#lesson-questions"
    return render(request, template, context)


def _cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


@require_GET
@staff_member_required
def quiz_stats_csv(request: HtmxHttpRequest) -> HttpResponse:
    """One row per question version, in course, lesson and question order."""
    versions = QuestionVersion.objects.select_related(
        "question__lesson__course", "question__current_version", "stats"
    ).order_by(
        "question__lesson__course__order",
        "question__lesson__order",
        "question__lesson__slug",
        "question__position",
        "number",
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="quiz-stats.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for version in versions:
        question = version.question
        stats = getattr(version, "stats", None)
        numbers = ["", "", "", "", "", "", ""]
        if stats is not None:
            numbers = [
                stats.answers,
                stats.correct,
                "" if stats.percent_correct is None else stats.percent_correct,
                "" if stats.discrimination is None else stats.discrimination,
                " ".join(f"{key}={count}" for key, count in stats.option_counts.items()),
                " ".join(
                    flag["code"] + (f":{flag['option']}" if flag["option"] else "")
                    for flag in stats.flags
                ),
                stats.computed_at.isoformat(),
            ]
        writer.writerow(
            _cell(value)
            for value in [
                question.lesson.course.slug,
                question.lesson.slug,
                question.key,
                version.number,
                "yes" if question.current_version_id == version.pk else "no",
                "yes" if question.retired else "no",
                version.difficulty,
                version.kind,
                plain_text(version.title_html),
                *numbers,
            ]
        )
    return response


GRADEBOOK_CSV_HEADER = [
    "learner",
    "username",
    "lesson_slug",
    "lesson_title",
    "tests_taken",
    "best_percent",
    "latest_percent",
    "latest_finished_at",
    "complete",
]


def _gradebook_lessons() -> list[Lesson]:
    return list(Lesson.objects.select_related("course"))


@require_GET
@staff_member_required
def gradebook(request: HtmxHttpRequest) -> HttpResponse:
    """Learners as rows, lessons as columns: best and latest test score, and completion."""
    lessons = _gradebook_lessons()
    context = {
        "lessons": lessons,
        "rows": gradebook_rows(lessons=lessons),
        "complete_percent": COMPLETE_PERCENT,
    }
    return render(request, "quiz/staff_gradebook.html", context)


@require_GET
@staff_member_required
def gradebook_csv(request: HtmxHttpRequest) -> HttpResponse:
    """The gradebook, one row per learner and lesson, in the page's order."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="gradebook.csv"'
    writer = csv.writer(response)
    writer.writerow(GRADEBOOK_CSV_HEADER)
    for row in gradebook_rows(lessons=_gradebook_lessons()):
        user = row.learner.user
        for cell in row.cells:
            writer.writerow(
                _cell(value)
                for value in [
                    row.name,
                    user.get_username() if user is not None else "",
                    cell.lesson.slug,
                    cell.lesson.title,
                    cell.tests_taken,
                    "" if cell.best_percent is None else cell.best_percent,
                    "" if cell.latest_percent is None else cell.latest_percent,
                    cell.latest_finished_at.isoformat() if cell.latest_finished_at else "",
                    "yes" if cell.complete else "no",
                ]
            )
    return response
