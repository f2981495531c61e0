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
from .models import (
    LessonStats,
    LessonTestStats,
    Question,
    QuestionTestStats,
    QuestionVersion,
    QuestionVersionStats,
)
from .rendering import version_title_html, versions_rendered

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
    # In the tests the ``attempts`` parameter chooses (first of each learner, or all):
    "test_attempts",
    "tests",
    "facility",
    "test_sd",
    "random_guess",
    "discrimination_index",
    "discriminative_efficiency",
]

# Each test figure: its field, name, unit, what it means, and why it may be missing.
TEST_FIGURES = [
    ("tests", "Tests", "", "How many finished tests these figures count.", ""),
    ("questions", "Questions per test", "", "Drawn from the lesson's bank for each test.",
     "no test yet, or tests of different lengths"),
    ("mean", "Mean score", "%", "The average test score, as a percent of the maximum.",
     "no test yet"),
    ("median", "Median score", "%", "Half the tests scored this or less.", "no test yet"),
    ("sd", "Standard deviation", "%",
     "How spread out the scores are: about two thirds lie within one SD of the mean.",
     "needs at least 2 tests"),
    ("skewness", "Skewness", "",
     "Below 0: a tail of low scores (the test was easy for most); above 0: a tail of high "
     "scores. Between -1 and 1 is usual.", "needs 3 tests whose scores differ"),
    ("kurtosis", "Kurtosis", "",
     "Above 0: scores bunch in the middle with a few far out; below 0: spread flat.",
     "needs 4 tests whose scores differ"),
    ("alpha", "Internal consistency (Cronbach's alpha, KR-20)", "",
     "Do the questions measure the same thing? 0.7 or more is good for a short test; Moodle "
     "shows it times 100.", ""),
    ("error_ratio", "Error ratio", "%",
     "The share of the spread of scores that is noise, not what learners know: "
     "100 √(1 - alpha). Lower is better.", ""),
    ("standard_error", "Standard error", "%",
     "How far a learner's score may be from their true score: SD √(1 - alpha). Two scores closer "
     "than this may not differ.", ""),
]  # fmt: skip


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
    # The current version's title, and every version's options in its chart.
    versions_rendered(versions=[
        version for question in questions
        for version in (question.current_version, *question.versions.all()) if version
    ])  # fmt: skip
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


def _attempts_chosen(request: HtmxHttpRequest) -> str | None:
    """The ``attempts`` parameter: "first" (the default) or "all"; None for anything else."""
    value = request.GET.get("attempts", LessonTestStats.Attempts.FIRST)
    return value if value in LessonTestStats.Attempts.values else None


def _bad_attempts() -> HttpResponse:
    choices = " or ".join(f"'{value}'" for value in LessonTestStats.Attempts.values)
    return HttpResponse(f"attempts must be {choices}.", status=400)


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f}%"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def test_figures(*, stats: LessonTestStats | None) -> list[dict]:
    """The rows of a lesson's test figures table: name, value as shown, meaning, and why a
    missing value is missing."""
    rows = []
    for name, label, unit, meaning, why in TEST_FIGURES:
        value = getattr(stats, name) if stats else None
        if value is None and name in ("alpha", "error_ratio", "standard_error") and stats:
            why = f"alpha {stats.alpha_note}" if stats.alpha_note else why
        rows.append({"name": name, "label": label, "value": _figure(value, unit),
                     "meaning": meaning, "why": why if value is None else ""})  # fmt: skip
    return rows


def _meter(value: float | None, *, centred: bool = False) -> dict | None:
    """A bar in a 0..100 wide box: from 0 for a percent, from the middle for -100..100."""
    if value is None:
        return None
    if not centred:
        return {"x": 0, "width": round(max(0.0, min(100.0, value)), 1)}
    half = round(max(-50.0, min(50.0, value / 2)), 1)
    return {"x": 50 + min(0.0, half), "width": abs(half), "negative": half < 0}


def _test_questions(stats: LessonTestStats | None) -> list[QuestionTestStats]:
    if stats is None:
        return []
    rows = list(
        stats.question_rows.select_related("version__question").order_by(
            "version__question__position", "version__number"
        )
    )
    for row in rows:
        row.facility_bar = _meter(row.facility)
        row.guess_x = None if row.random_guess is None else round(row.random_guess, 1)
        row.discrimination_bar = _meter(row.discrimination_index, centred=True)
    return rows


@require_GET
@staff_member_required
def quiz_stats(request: HtmxHttpRequest) -> HttpResponse:
    """Lessons with their completion and test scores; one lesson's tests and questions in
    detail, counting each learner's first test or (``?attempts=all``) every test."""
    attempts = _attempts_chosen(request)
    if attempts is None:
        return _bad_attempts()
    lessons = list(Lesson.objects.select_related("course", "quiz_stats"))
    for item in lessons:
        item.numbers = getattr(item, "quiz_stats", None)
    slug = request.GET.get("lesson")
    if slug:
        lesson = get_object_or_404(Lesson, slug=slug)
    else:
        lesson = next((item for item in lessons if not item.retired), None)
    test_stats = (
        LessonTestStats.objects.filter(lesson=lesson, attempts=attempts).first() if lesson else None
    )
    context = {
        "lessons": lessons,
        "lesson": lesson,
        "questions": _lesson_questions(lesson) if lesson else [],
        "computed_at": LessonStats.objects.aggregate(latest=Max("computed_at"))["latest"],
        "attempts": attempts,
        "attempt_choices": LessonTestStats.Attempts.choices,
        "test_stats": test_stats,
        "test_figures": test_figures(stats=test_stats),
        "test_questions": _test_questions(test_stats),
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
    """One row per question version, in course, lesson and question order, with its figures in
    the tests that ``?attempts=`` chooses (first of each learner by default, or all)."""
    attempts = _attempts_chosen(request)
    if attempts is None:
        return _bad_attempts()
    in_tests = {
        row.version_id: row
        for row in QuestionTestStats.objects.filter(test_stats__attempts=attempts)
    }
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
        tested = in_tests.get(version.pk)
        numbers.append(attempts)
        numbers += [
            "" if tested is None or getattr(tested, name) is None else getattr(tested, name)
            for name in ("tests", "facility", "sd", "random_guess", "discrimination_index",
                         "discriminative_efficiency")
        ]  # fmt: skip
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
                plain_text(version_title_html(version=version)),
                *numbers,
            ]
        )
    return response


TEST_CSV_HEADER = [
    "course", "lesson", "attempts", "tests", "questions", "mean", "median", "sd", "skewness",
    "kurtosis", "alpha", "alpha_note", "error_ratio", "standard_error", "computed_at",
]  # fmt: skip


@require_GET
@staff_member_required
def test_stats_csv(request: HtmxHttpRequest) -> HttpResponse:
    """One row per lesson: its test figures, in the tests ``?attempts=`` chooses."""
    attempts = _attempts_chosen(request)
    if attempts is None:
        return _bad_attempts()
    rows = (
        LessonTestStats.objects.filter(attempts=attempts)
        .select_related("lesson__course")
        .order_by("lesson__course__order", "lesson__order", "lesson__slug")
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="test-stats.csv"'
    writer = csv.writer(response)
    writer.writerow(TEST_CSV_HEADER)
    for row in rows:
        values = [row.lesson.course.slug, row.lesson.slug]
        for name in TEST_CSV_HEADER[2:-1]:
            value = getattr(row, name)
            values.append("" if value is None else value)
        writer.writerow([_cell(value) for value in [*values, row.computed_at.isoformat()]])
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
