"""The learner's side of the quiz engine: practice, quiz, test and review, as pages and forms.

Every form works without JavaScript; with htmx, answers and hints swap in place. Nothing that
gives an answer away (correct flags, feedback, solutions) is rendered before it is answered.
"""

from dataclasses import dataclass

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST

from learners.identity import learner_existing, learner_for
from learnsite.htmx import HtmxHttpRequest
from lessons.models import Lesson
from lessons.progress import lesson_mark_read

from .models import Answer, Attempt, AttemptQuestion
from .services import (
    SubmissionError,
    attempt_answer,
    attempt_questions_read,
    attempt_start,
    attempt_submit,
    breakdown,
    hint_reveal,
    position_parse,
    review_due,
    verdict,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STARTABLE_MODES = {Attempt.Mode.PRACTICE, Attempt.Mode.QUIZ, Attempt.Mode.TEST}
WHOLE_FORM_MODES = {Attempt.Mode.QUIZ, Attempt.Mode.TEST}  # the rest take one answer at a time


@dataclass
class ShownOption:
    key: str
    letter: str
    html: str
    correct: bool = False
    chosen: bool = False
    feedback_html: str = ""


@dataclass
class ShownQuestion:
    """One question as this learner sees it, with what they may see at this point."""

    item: AttemptQuestion
    options: list[ShownOption]
    answer: Answer | None
    hints: list[str]

    @property
    def field_name(self) -> str:
        """The form field of this question on a whole quiz or test form."""
        return f"q{self.item.position}"

    @property
    def right_letters(self) -> str:
        return ", ".join(option.letter for option in self.options if option.correct)


def shown_question(item: AttemptQuestion) -> ShownQuestion:
    answer = getattr(item, "answer", None)
    by_key = {option["key"]: option for option in item.version.options}
    options = []
    for letter, key in zip(LETTERS, item.option_order, strict=False):
        option = ShownOption(key=key, letter=letter, html=by_key[key]["html"])
        if answer is not None:  # only now may the page say what was right, and why
            option.correct = by_key[key]["correct"]
            option.chosen = key in answer.chosen
            option.feedback_html = by_key[key]["feedback_html"]
        options.append(option)
    return ShownQuestion(item, options, answer, item.version.hints[: item.hints_shown])


def _own_attempt(request: HtmxHttpRequest, pk: int) -> Attempt:
    """The attempt, if it is this learner's: another learner's is a 404, like a missing one.
    A session with no learner yet has no attempt, and none is made for it here."""
    learner = learner_existing(request)
    if learner is None:
        raise Http404("No such attempt.")
    return get_object_or_404(Attempt.objects.select_related("lesson"), pk=pk, learner=learner)


@require_POST
def attempt_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    lesson = get_object_or_404(Lesson.objects.active(), slug=slug)
    mode = request.POST.get("mode", "")
    if mode not in STARTABLE_MODES:
        return HttpResponse("Choose practice, quiz or test.", status=400)
    try:
        attempt = attempt_start(learner=learner_for(request), lesson=lesson, mode=mode)
    except SubmissionError as error:
        return HttpResponse(escape(error.message), status=400)
    lesson_mark_read(request, lesson.slug)  # starting its questions counts as having read it
    return redirect("quiz:attempt", pk=attempt.pk)


@require_GET
def review_home(request: HtmxHttpRequest) -> HttpResponse:
    learner = learner_existing(request)  # a GET makes no learner
    due = review_due(learner=learner) if learner else []
    return render(request, "quiz/review.html", {"due": due})


@require_POST
def review_start(request: HtmxHttpRequest) -> HttpResponse:
    try:
        attempt = attempt_start(learner=learner_for(request), mode=Attempt.Mode.REVIEW)
    except SubmissionError as error:
        return render(request, "quiz/review.html", {"due": [], "error": error}, status=400)
    return redirect("quiz:attempt", pk=attempt.pk)


@require_GET
def attempt_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    attempt = _own_attempt(request, pk)
    items = attempt_questions_read(attempt)
    if attempt.finished_at is not None:
        return _result(request, attempt, items)
    if attempt.mode in WHOLE_FORM_MODES:
        return _whole_form(request, attempt, items)
    return _one_question(request, attempt, items, _current_position(request, items))


def _current_position(request: HtmxHttpRequest, items: list[AttemptQuestion]) -> int:
    """?q=N shows an answered question again; otherwise the first unanswered one."""
    try:
        wanted = int(request.GET.get("q", ""))
    except ValueError:
        wanted = 0
    if any(item.position == wanted for item in items):
        return wanted
    unanswered = [item.position for item in items if not hasattr(item, "answer")]
    return unanswered[0] if unanswered else items[-1].position


def _one_question(request, attempt, items, position, *, error="", status=200, focus="question"
                  ) -> HttpResponse:  # fmt: skip
    """One practice question; swapped in by htmx, with focus on ``focus`` (verdict, hint, error
    or question)."""
    item = next(item for item in items if item.position == position)
    answered = sum(hasattr(i, "answer") for i in items)
    following = [i.position for i in items if i.position > position and not hasattr(i, "answer")]
    context = {
        "attempt": attempt,
        "question": shown_question(item),
        "total": len(items),
        "answered": answered,
        "next_position": following[0] if following else None,
        "error": error,
        "focus": focus if request.htmx else "",
    }
    template = "quiz/attempt.html#question" if request.htmx else "quiz/attempt.html"
    return render(request, template, context, status=status)


def _whole_form(request, attempt, items, *, chosen=None, error="", status=200) -> HttpResponse:
    questions = [shown_question(item) for item in items]
    for question in questions:  # keep what was ticked when the form comes back with an error
        for option in question.options:
            option.chosen = option.key in (chosen or {}).get(question.item.position, [])
    # Sent back with an error: the questions still without an answer, to go straight to.
    missing = [q.item.position for q in questions if not any(o.chosen for o in q.options)]
    context = {
        "attempt": attempt,
        "questions": questions,
        "error": error,
        "missing": missing if error else [],
        "total": len(items),
    }
    return render(request, "quiz/attempt.html", context, status=status)


def _result(request, attempt, items) -> HttpResponse:
    percent = attempt.percent or 0
    context = {
        "attempt": attempt,
        "questions": [shown_question(item) for item in items],
        "percent": percent,
        "verdict": verdict(percent) if attempt.mode == Attempt.Mode.TEST else "",
        "breakdown": breakdown(items),
        "total": len(items),
    }
    return render(request, "quiz/result.html", context)


@require_POST
def answer_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Practice and review: one answer, graded at once."""
    attempt = _own_attempt(request, pk)
    position = position_parse(request.POST.get("position"))  # "01" is question 1 too
    try:
        attempt_answer(attempt=attempt, position=position, chosen=request.POST.getlist("answer"))
    except SubmissionError as error:
        if attempt.mode in WHOLE_FORM_MODES:  # no practice question to send back: say where to go
            where = reverse("quiz:submit", args=[attempt.pk])
            return HttpResponse(escape(f"{error.message} Post them all to {where}."), status=400)
        items = attempt_questions_read(attempt)
        if not any(item.position == position for item in items):
            return HttpResponse(escape(error.message), status=400)
        return _one_question(request, attempt, items, position, error=error.message,
                             status=400, focus="error")  # fmt: skip
    attempt.refresh_from_db()
    if not request.htmx:
        return redirect(f"{reverse('quiz:attempt', args=[attempt.pk])}?q={position}")
    return _one_question(
        request, attempt, attempt_questions_read(attempt), position, focus="verdict"
    )


@require_POST
def hint_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    attempt = _own_attempt(request, pk)
    position = position_parse(request.POST.get("position"))  # as the answer takes it
    try:
        hint_reveal(attempt=attempt, position=position)
    except SubmissionError as error:
        return HttpResponse(escape(error.message), status=400)
    if not request.htmx:
        return redirect(f"{reverse('quiz:attempt', args=[attempt.pk])}?q={position}")
    return _one_question(request, attempt, attempt_questions_read(attempt), position, focus="hint")


@require_POST
def attempt_submit_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Quiz and test: every answer at once; a missing one keeps the others on the form."""
    attempt = _own_attempt(request, pk)
    items = attempt_questions_read(attempt)
    answers = {}
    for item in items:
        chosen = request.POST.getlist(f"q{item.position}")
        if chosen:
            answers[item.position] = chosen
    try:
        attempt_submit(attempt=attempt, answers=answers)
    except SubmissionError as error:
        if attempt.mode not in WHOLE_FORM_MODES:  # no whole form to send back: say where to go
            where = reverse("quiz:answer", args=[attempt.pk])
            return HttpResponse(escape(f"{error.message} Post each to {where}."), status=400)
        if attempt.finished_at is not None:
            return HttpResponse(escape(error.message), status=400)
        return _whole_form(request, attempt, items, chosen=answers, error=error.message,
                           status=400)  # fmt: skip
    return redirect("quiz:attempt", pk=attempt.pk)
