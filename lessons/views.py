from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from learners.identity import learner_existing
from learners.progress import lab_goals_recorded
from learnsite.streaming import sse_response

from .live_reload import RECONNECT_MS, content_change_stream
from .models import ContentProblem, Course, Lesson
from .progress import lesson_mark_read, lessons_read


def _problems_visible(request: HttpRequest) -> bool:
    # Authors see content errors while they write; learners on a live site never do.
    return settings.CONTENT_AUTHORING or request.user.is_staff


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    courses = list(Course.objects.with_lessons())
    read = lessons_read(request)
    for course in courses:
        course.read_count = sum(lesson.slug in read for lesson in course.lessons.all())
    problems = ContentProblem.objects.all() if _problems_visible(request) else []
    context = {
        "courses": courses,
        "read": read,
        "problems": problems,
        "live_reload": settings.CONTENT_AUTHORING,
    }
    return render(request, "lessons/home.html", context)


@require_GET
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_object_or_404(Lesson.objects.active().select_related("course"), slug=slug)
    lesson_mark_read(request, lesson.slug)
    siblings = list(lesson.course.lessons.active().only("slug", "title", "order"))
    index = next(i for i, sibling in enumerate(siblings) if sibling.pk == lesson.pk)
    read = lessons_read(request)
    problems = []
    if _problems_visible(request):
        paths = Q(path=lesson.source_path) | Q(path=lesson.questions_path or lesson.source_path)
        problems = ContentProblem.objects.filter(paths)
    questions = list(lesson.questions.active().values_list("sets", flat=True))
    goals_met = lab_goals_recorded(learner=learner_existing(request))
    for section in lesson.sections:
        for part in section["parts"]:
            if part["type"] == "lab":
                part["goal_done"] = (part["kind"], part["goal"]) in goals_met
    context = {
        "lesson": lesson,
        "layout": lesson.layout(),
        "practice_count": sum("practice" in sets for sets in questions),
        "quiz_count": sum("quiz" in sets for sets in questions),
        "bank_count": len(questions),
        "previous": siblings[index - 1] if index > 0 else None,
        "next": siblings[index + 1] if index + 1 < len(siblings) else None,
        "position": index + 1,
        "total": len(siblings),
        "read_count": sum(sibling.slug in read for sibling in siblings),
        "problems": problems,
        "live_reload": settings.CONTENT_AUTHORING,
    }
    return render(request, "lessons/lesson.html", context)


@require_GET
async def content_changes(request: HttpRequest) -> HttpResponse:
    """Tells an open page to refresh itself when the content files change (authors only)."""
    if not settings.CONTENT_AUTHORING:
        return HttpResponse("Live reload is on only in authoring mode.", status=404)
    return sse_response(content_change_stream(), retry_ms=RECONNECT_MS)
