from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import Course, Lesson


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    courses = Course.objects.prefetch_related("lessons")
    return render(request, "lessons/home.html", {"courses": courses})


@require_GET
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_object_or_404(Lesson.objects.select_related("course"), slug=slug)
    return render(request, "lessons/lesson.html", {"lesson": lesson})
