"""What a learner has done: lessons read (kept in their session, anonymous learners included),
and the quiz steps that apps above report through ``lesson_steps_asked``."""

from django.http import HttpRequest

from learners.models import Learner

from .signals import lesson_steps_asked

SESSION_KEY = "lessons_read"


def lessons_read(request: HttpRequest) -> set[str]:
    return set(request.session.get(SESSION_KEY, []))


def lesson_mark_read(request: HttpRequest, slug: str) -> None:
    """Only from a POST (the learner says so, or starts practice): a GET never writes."""
    read = request.session.get(SESSION_KEY, [])
    if slug not in read:
        request.session[SESSION_KEY] = [*read, slug]


def lesson_steps_done(*, learner: Learner | None, slugs: list[str]) -> dict[str, set[str]]:
    """{slug: steps done} for these lessons: "quiz", "test" (see ``lesson_steps_asked``)."""
    done: dict[str, set[str]] = {slug: set() for slug in slugs}
    if learner is None:
        return done
    for _receiver, answer in lesson_steps_asked.send(sender=Learner, learner=learner, slugs=slugs):
        for slug, steps in answer.items():
            done[slug] |= steps
    return done
