from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from learners.identity import learner_existing
from learners.progress import lab_goals_recorded
from learnsite.streaming import sse_response

from .body import lesson_body_rendered
from .live_reload import RECONNECT_MS, content_change_stream
from .models import ContentProblem, Course, Lesson
from .progress import lesson_mark_read, lesson_steps_done, lessons_read
from .rendered import (
    content_version_current,
    page_conditional,
    page_etag,
    page_rendered,
    rendered_cached,
)

SEARCH_RESULTS = 50
STEP_LABELS = {"quiz": "Quiz", "test": "Test passed"}


def _problems_visible(request: HttpRequest) -> bool:
    # Authors see content errors while they write; learners on a live site never do.
    return settings.CONTENT_AUTHORING or request.user.is_staff


def _lab_goals(lesson: Lesson) -> list[tuple[str, str, str]]:
    """(kind, goal, what the goal asks) of each lab the lesson places, in page order."""
    return [
        (part["kind"], part["goal"], part.get("goal_description", ""))
        for section in lesson.sections
        for part in section["parts"]
        if part["type"] == "lab"
    ]


def _home_page() -> list[dict]:
    """The course list, the same for every learner: a few fields per course, not its lessons."""
    courses = {
        course.pk: {"slug": course.slug, "title": course.title, "summary": course.summary}
        | {"lessons": [], "minutes": 0}
        for course in Course.objects.only("slug", "title", "summary")
    }
    for course_id, slug, minutes in Lesson.objects.active().values_list(
        "course_id", "slug", "minutes"
    ):
        courses[course_id]["lessons"].append(slug)
        courses[course_id]["minutes"] += minutes
    return [course for course in courses.values() if course["lessons"]]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    version = content_version_current()
    courses = rendered_cached(version=version, key="home", build=_home_page) or []
    read = lessons_read(request)
    progress = [len(read.intersection(course["lessons"])) for course in courses]
    problems = ContentProblem.objects.all() if _problems_visible(request) else []
    etag = None if problems else page_etag(request, version, progress)
    context = {
        "courses": [
            {**course, "read_count": n} for course, n in zip(courses, progress, strict=True)
        ],
        "problems": problems,
        "live_reload": settings.CONTENT_AUTHORING,
    }
    if problems:
        return render(request, "lessons/home.html", context)
    return page_conditional(
        request,
        etag=etag,
        render=lambda: page_rendered(
            request,
            version=version,
            key=f"home:{progress}",
            template="lessons/home.html",
            context=lambda: context,
        ),
    )


def _course_page(slug: str) -> dict | None:
    """A course as a path, the same for every learner: its lessons in order with what each
    needs first, its minutes, its labs and the quiz steps it offers."""
    course = Course.objects.filter(slug=slug).only("slug", "title", "summary").first()
    if course is None:
        return None
    lessons = list(course.lessons.active())
    if not lessons:
        return None
    offered: dict[int, set[str]] = {}
    rows = Lesson.objects.filter(pk__in=[lesson.pk for lesson in lessons], questions__retired=False)
    for pk, sets in rows.values_list("pk", "questions__sets"):
        offered.setdefault(pk, {"test"}).update({"quiz"} & set(sets))
    needed = {slug for lesson in lessons for slug in lesson.prerequisites}
    titles = dict(Lesson.objects.active().filter(slug__in=needed).values_list("slug", "title"))
    return {
        "course": {"slug": course.slug, "title": course.title, "summary": course.summary},
        "minutes": sum(lesson.minutes for lesson in lessons),
        "lessons": [
            {
                "slug": lesson.slug,
                "title": lesson.title,
                "summary": lesson.summary,
                "minutes": lesson.minutes,
                "requires": [
                    {"slug": slug, "title": titles[slug]}
                    for slug in lesson.prerequisites
                    if slug in titles
                ],
                "labs": _lab_goals(lesson),
                "steps": [step for step in ("quiz", "test") if step in offered.get(lesson.pk, ())],
            }
            for lesson in lessons
        ],
    }


@require_GET
def course_detail(request: HttpRequest, slug: str) -> HttpResponse:
    version = content_version_current()
    page = rendered_cached(version=version, key=f"course:{slug}", build=lambda: _course_page(slug))
    if page is None:
        raise Http404("No such course.")
    read = lessons_read(request)
    learner = learner_existing(request)
    goals = lab_goals_recorded(learner=learner)
    steps_done = lesson_steps_done(
        learner=learner, slugs=[lesson["slug"] for lesson in page["lessons"]]
    )
    path = []
    for lesson in page["lessons"]:
        done = steps_done[lesson["slug"]]
        steps = [("Read", lesson["slug"] in read)]
        steps += [("Lab goal", (kind, goal) in goals) for kind, goal, _ in lesson["labs"]]
        steps += [(STEP_LABELS[step], step in done) for step in lesson["steps"]]
        requires = [{**need, "read": need["slug"] in read} for need in lesson["requires"]]
        path.append({**lesson, "progress": steps, "requires": requires,
                     "done": sum(ok for _, ok in steps)})  # fmt: skip
    next_up = next((lesson["slug"] for lesson in path if lesson["slug"] not in read), None)
    stamp = [(lesson["slug"], lesson["progress"]) for lesson in path]
    context = {
        "course": page["course"],
        "minutes": page["minutes"],
        "path": path,
        "next_up": next_up,
        "read_count": sum(lesson["slug"] in read for lesson in path),
    }
    return page_conditional(
        request,
        etag=page_etag(request, version, slug, stamp),
        render=lambda: page_rendered(
            request,
            version=version,
            key=f"course:{slug}:{stamp}",
            template="lessons/course.html",
            context=lambda: context,
        ),
    )


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    results = []
    if query:
        matches = Q(title__icontains=query) | Q(summary__icontains=query)
        found = (
            Lesson.objects.active()
            .filter(matches)
            .select_related("course")
            .only("slug", "title", "summary", "minutes", "course__slug", "course__title")
        )
        results = list(found[: SEARCH_RESULTS + 1])
    context = {"query": query, "results": results[:SEARCH_RESULTS],
               "more": len(results) > SEARCH_RESULTS}  # fmt: skip
    return render(request, "lessons/search.html", context)


def _lesson_page(slug: str) -> dict | None:
    """A lesson page's parts that are the same for every learner."""
    lesson = Lesson.objects.active().select_related("course").filter(slug=slug).first()
    if lesson is None:
        return None
    siblings = list(lesson.course.lessons.active().values_list("slug", "title"))
    index = next(i for i, (sibling, _) in enumerate(siblings) if sibling == lesson.slug)
    questions = list(lesson.questions.active().values_list("sets", flat=True))
    previous = siblings[index - 1] if index > 0 else None
    following = siblings[index + 1] if index + 1 < len(siblings) else None
    fields = ("pk", "slug", "title", "track", "summary", "minutes", "impact", "source_path",
              "questions_path")  # fmt: skip
    return {
        # What the page shows around the body: a few fields, not the sections (kept in the
        # cache, so read back on every request).
        "lesson": {field: getattr(lesson, field) for field in fields}
        | {
            "has_lab": lesson.has_lab(),
            "course": {"slug": lesson.course.slug, "title": lesson.course.title},
        },
        "labs": [(kind, goal) for kind, goal, _ in _lab_goals(lesson)],
        "practice_count": sum("practice" in sets for sets in questions),
        "quiz_count": sum("quiz" in sets for sets in questions),
        "bank_count": len(questions),
        "previous": previous and {"slug": previous[0], "title": previous[1]},
        "next": following and {"slug": following[0], "title": following[1]},
        "position": index + 1,
        "course_lessons": [sibling for sibling, _ in siblings],
    }


def _lesson_body(pk: int, goals_done: tuple) -> str:
    """The rendered body (contents and sections): most of the page's cost, paid once per
    content version and set of lab goals met (its markdown is rendered once for all processes,
    by the first of them to show it)."""
    lesson = lesson_body_rendered(lesson=Lesson.objects.get(pk=pk))
    for section in lesson.sections:
        for part in section["parts"]:
            if part["type"] == "lab":
                part["goal_done"] = (part["kind"], part["goal"]) in goals_done
    return render_to_string(
        "lessons/_lesson_body.html", {"lesson": lesson, "layout": lesson.layout()}
    )


def _lesson_page_cached(slug: str) -> tuple[str | None, dict]:
    version = content_version_current()
    page = rendered_cached(version=version, key=f"lesson:{slug}", build=lambda: _lesson_page(slug))
    if page is None:
        raise Http404("No such lesson.")
    return version, page


def _reading(request: HttpRequest, page: dict) -> dict:
    """The learner's reading of the course, as the end of a lesson page shows it."""
    read = lessons_read(request)
    return {
        "is_read": page["lesson"]["slug"] in read,
        "read_count": len(read.intersection(page["course_lessons"])),
        "total": len(page["course_lessons"]),
    }


@require_GET
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    version, page = _lesson_page_cached(slug)
    lesson = page["lesson"]
    # Learners without a lab goal on this page cost no query for them.
    goals = lab_goals_recorded(learner=learner_existing(request)) if page["labs"] else set()
    goals_done = tuple(goal for goal in page["labs"] if goal in goals)
    reading = _reading(request, page)
    problems = []
    if _problems_visible(request):
        paths = Q(path=lesson["source_path"]) | Q(
            path=lesson["questions_path"] or lesson["source_path"]
        )
        problems = list(ContentProblem.objects.filter(paths))

    def context() -> dict:
        body = rendered_cached(
            version=version,
            key=f"lesson-body:{slug}:{goals_done}",
            build=lambda: _lesson_body(lesson["pk"], goals_done),
        )
        return {**page, **reading, "body": body, "problems": problems,
                "live_reload": settings.CONTENT_AUTHORING}  # fmt: skip

    if problems:
        return render(request, "lessons/lesson.html", context())
    state = (goals_done, reading["is_read"], reading["read_count"])
    return page_conditional(
        request,
        etag=page_etag(request, version, slug, state),
        render=lambda: page_rendered(
            request,
            version=version,
            key=f"lesson:{slug}:{state}",
            template="lessons/lesson.html",
            context=context,
        ),
    )


@require_POST
def lesson_read(request: HttpRequest, slug: str) -> HttpResponse:
    """The learner says they have read the lesson (a GET of the page records nothing)."""
    _version, page = _lesson_page_cached(slug)
    lesson_mark_read(request, slug)
    if request.htmx:
        context = {**page, **_reading(request, page), "focus": True}
        return render(request, "lessons/lesson.html#reading", context)
    return redirect(reverse("lessons:lesson", args=[slug]) + "#lesson-end", permanent=False)


@require_GET
async def content_changes(request: HttpRequest) -> HttpResponse:
    """Tells an open page to refresh itself when the content files change (authors only)."""
    if not settings.CONTENT_AUTHORING:
        return HttpResponse("Live reload is on only in authoring mode.", status=404)
    return sse_response(content_change_stream(), retry_ms=RECONNECT_MS)
