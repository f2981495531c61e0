"""What a learner has read, kept in their session (anonymous learners included)."""

from django.http import HttpRequest

SESSION_KEY = "lessons_read"


def lessons_read(request: HttpRequest) -> set[str]:
    return set(request.session.get(SESSION_KEY, []))


def lesson_mark_read(request: HttpRequest, slug: str) -> None:
    read = request.session.get(SESSION_KEY, [])
    if slug not in read:
        request.session[SESSION_KEY] = [*read, slug]
