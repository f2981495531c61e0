"""The gradebook: per learner and lesson, the best and the latest test score and completion.

One query over the finished tests, grouped by learner and lesson; the latest score is a
subquery of that same statement. Percents are rounded in Python as ``Attempt.percent`` does.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, FloatField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Cast

from learners.models import Learner
from lessons.models import Lesson

from .models import Attempt
from .services import VERDICTS

# A lesson is complete for a learner once one finished test of it scored at least this: the
# floor of the best verdict ("strong") that quiz.services.verdict gives.
COMPLETE_PERCENT = max(floor for floor, _label in VERDICTS)


@dataclass(frozen=True)
class GradebookCell:
    lesson: Lesson
    tests_taken: int = 0
    best_percent: int | None = None
    latest_percent: int | None = None
    latest_finished_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.best_percent is not None and self.best_percent >= COMPLETE_PERCENT


@dataclass(frozen=True)
class GradebookRow:
    learner: Learner
    cells: list[GradebookCell]

    @property
    def name(self) -> str:
        return learner_label(self.learner)


def learner_label(learner: Learner) -> str:
    """The username, or "anonymous" and the first 8 characters of the learner's key."""
    if learner.user is not None:
        return learner.user.get_username()
    return f"anonymous {learner.key[:8]}"


def _finished_tests():
    return Attempt.objects.filter(
        mode=Attempt.Mode.TEST, finished_at__isnull=False, score__isnull=False, max_score__gt=0
    ).order_by()


def _ratio():
    return Cast(F("score"), FloatField()) * 100.0 / F("max_score")


def gradebook_rows(
    *, lessons: list[Lesson], learners: list[Learner] | None = None
) -> list[GradebookRow]:
    """One row per learner, one cell per lesson in the order given.

    ``learners`` None means everyone who started any attempt at one of ``lessons``, usernames
    first. Two queries at most (learners, then the grouped tests), whatever their number.
    """
    lesson_ids = [lesson.pk for lesson in lessons]
    tests = _finished_tests().filter(lesson__in=lesson_ids)
    if learners is None:
        learners = list(
            Learner.objects.filter(attempts__lesson__in=lesson_ids)
            .distinct()
            .select_related("user")
            .order_by(F("user__username").asc(nulls_last=True), "pk")
        )
    else:
        tests = tests.filter(learner__in=[learner.pk for learner in learners])
    latest = (
        _finished_tests()
        .filter(learner=OuterRef("learner"), lesson=OuterRef("lesson"))
        .order_by("-finished_at", "-pk")
        .annotate(ratio=_ratio())
        .values("ratio")[:1]
    )
    grouped = (
        tests.values("learner", "lesson")
        .annotate(
            taken=Count("pk"),
            best=Max(_ratio()),
            latest_at=Max("finished_at"),
            latest=Subquery(latest, output_field=FloatField()),
        )
        .order_by()
    )
    found = {(row["learner"], row["lesson"]): row for row in grouped} if learners else {}
    rows = []
    for learner in learners:
        cells = []
        for lesson in lessons:
            row = found.get((learner.pk, lesson.pk))
            if row is None:
                cells.append(GradebookCell(lesson=lesson))
                continue
            cells.append(
                GradebookCell(
                    lesson=lesson,
                    tests_taken=row["taken"],
                    best_percent=round(row["best"]),
                    latest_percent=round(row["latest"]),
                    latest_finished_at=row["latest_at"],
                )
            )
        rows.append(GradebookRow(learner=learner, cells=cells))
    return rows


def lesson_steps_done(*, learner: Learner, slugs: list[str]) -> dict[str, set[str]]:
    """{slug: steps done} for one learner: "quiz" once a quiz of the lesson is finished,
    "test" once a test of it scored COMPLETE_PERCENT or more (the gradebook's "complete").
    One query."""
    finished = Attempt.objects.filter(
        learner=learner, lesson__slug__in=slugs, finished_at__isnull=False
    ).order_by()
    quizzes = Q(mode=Attempt.Mode.QUIZ)
    # 79.5 and up rounds to 80, as in Attempt.percent and the gradebook's cells.
    tests = _finished_tests().annotate(ratio=_ratio())
    passed = Q(pk__in=tests.filter(learner=learner, ratio__gte=COMPLETE_PERCENT - 0.5).values("pk"))
    done: dict[str, set[str]] = {}
    for slug, mode in finished.filter(quizzes | passed).values_list("lesson__slug", "mode"):
        done.setdefault(slug, set()).add("quiz" if mode == Attempt.Mode.QUIZ else "test")
    return done
