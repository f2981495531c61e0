"""Statistics for instructors: how each question and lesson does, computed from stored answers.

``question_stats_compute`` and ``learner_scores_compute`` are pure: they take answer rows (read
by the ``answer_rows`` selector) and return numbers. ``lesson_stats_compute`` reads attempts.
``question_stats_refresh`` recomputes everything and stores it in one transaction; the Celery
task in quiz/tasks.py runs it, debounced, after finished attempts. Pages only read the result.

Every answer counts, whatever the attempt's mode (practice, quiz, test, review): an answer is
graded once and never changed, so each is one observation of how the question works.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from lessons.models import Lesson

from .models import (
    Answer,
    Attempt,
    LessonStats,
    Question,
    QuestionStats,
    QuestionVersion,
    QuestionVersionStats,
)

# The classic upper and lower groups of item analysis (Kelley): 27% of the learners each.
DISCRIMINATION_GROUP_SHARE = 0.27
# Flags need this many answers: below it, one learner more or less changes the verdict.
FLAG_MIN_ANSWERS = 10
TOO_EASY_PERCENT = 95  # at least this share right: the question teaches or tells little
TOO_HARD_PERCENT = 10  # at most this share right: a wrong key, or a trick question


@dataclass(frozen=True)
class AnswerRow:
    """One stored answer, with who gave it and to what."""

    learner_id: int
    question_id: int
    version_id: int
    chosen: tuple[str, ...]
    correct: bool
    credit: float


@dataclass(frozen=True)
class QuestionStatsResult:
    answers: int
    correct: int
    percent_correct: float | None
    discrimination: float | None
    option_counts: dict[str, int] = field(default_factory=dict)  # versions only
    flags: list[dict] = field(default_factory=list)  # versions only


@dataclass(frozen=True)
class LessonStatsResult:
    learners_started: int
    learners_finished: int
    completion_percent: float | None
    tests_finished: int
    average_test_percent: float | None


@dataclass(frozen=True)
class RefreshReport:
    lessons: int
    questions: int
    versions: int
    answers: int
    computed_at: str  # ISO 8601, the computed_at stored on every row


def answer_rows(*, lesson: Lesson) -> list[AnswerRow]:
    """Every answer to a question of ``lesson``: any version, any attempt mode, any learner."""
    rows = Answer.objects.filter(item__version__question__lesson=lesson).values_list(
        "item__attempt__learner_id",
        "item__version__question_id",
        "item__version_id",
        "chosen",
        "correct",
        "credit",
    )
    return [
        AnswerRow(learner_id, question_id, version_id, tuple(chosen), correct, credit)
        for learner_id, question_id, version_id, chosen, correct, credit in rows.order_by("pk")
    ]


def learner_scores_compute(*, answers: Iterable[AnswerRow]) -> dict[int, float]:
    """Each learner's overall score on a lesson: the mean credit (0..1) of all their answers to
    its questions. A mean, not a sum, because learners answer different numbers of questions."""
    totals: dict[int, list[float]] = defaultdict(list)
    for answer in answers:
        totals[answer.learner_id].append(answer.credit)
    return {learner: sum(credits) / len(credits) for learner, credits in totals.items()}


def discrimination_group_size(respondents: int) -> int:
    """27% of the respondents, rounded half up, and at least one."""
    return max(1, math.floor(DISCRIMINATION_GROUP_SHARE * respondents + 0.5))


def discrimination_compute(
    *, answers: Iterable[AnswerRow], learner_scores: dict[int, float]
) -> float | None:
    """The discrimination index D = p_upper - p_lower of one question (or one version).

    1. The respondents are the learners with at least one answer in ``answers``; each has a
       score on the item, the share of their answers to it that were right (0 or 1 when they
       answered once).
    2. The respondents are ranked by their overall score on the lesson (``learner_scores``:
       mean credit over all their answers to the lesson's questions, this one included), best
       first; equal scores go by learner id, lowest first, so the result is repeatable.
    3. The upper group is the first n, the lower group the last n, with n = 27% of the
       respondents rounded half up (at least 1): 10 respondents give groups of 3.
    4. p_upper and p_lower are the mean item scores of the two groups; D = p_upper - p_lower,
       rounded to 4 places, from -1 to 1.

    D near 1: strong learners get it right and weak ones do not (it separates them well). Near
    0: it does not tell them apart. Negative: weak learners do better, often a sign of a wrong
    key or a misleading option. None with fewer than two respondents.
    """
    by_learner: dict[int, list[bool]] = defaultdict(list)
    for answer in answers:
        by_learner[answer.learner_id].append(answer.correct)
    if len(by_learner) < 2:
        return None
    ranked = sorted(by_learner, key=lambda learner: (-learner_scores[learner], learner))
    size = discrimination_group_size(len(ranked))

    def p(group: list[int]) -> float:
        return sum(sum(by_learner[lr]) / len(by_learner[lr]) for lr in group) / len(group)

    return round(p(ranked[:size]) - p(ranked[-size:]), 4)


def _flag(code: str, text: str, option: str = "") -> dict:
    return {"code": code, "option": option, "text": text}


def flags_compute(
    *,
    options: list[dict],
    option_counts: dict[str, int],
    answers: int,
    percent_correct: float | None,
) -> list[dict]:
    """What makes a version look broken, once it has FLAG_MIN_ANSWERS answers (none before):

    - ``too_easy``: at least TOO_EASY_PERCENT of the answers are right;
    - ``too_hard``: at most TOO_HARD_PERCENT are right;
    - ``unused_distractor``: a wrong option that no answer picked;
    - ``popular_distractor``: a wrong option picked more often than a right one (more often
      than the least picked right option, when several are right; a tie is not flagged).
    """
    if answers < FLAG_MIN_ANSWERS or percent_correct is None:
        return []
    flags = []
    if percent_correct >= TOO_EASY_PERCENT:
        text = f"{percent_correct:g}% answer right: it may give itself away."
        flags.append(_flag("too_easy", text))
    if percent_correct <= TOO_HARD_PERCENT:
        text = f"Only {percent_correct:g}% answer right: check the marked answer."
        flags.append(_flag("too_hard", text))
    right = [option["key"] for option in options if option["correct"]]
    least_right = min((option_counts[key] for key in right), default=0)
    for option in options:
        key, count = option["key"], option_counts[option["key"]]
        if option["correct"]:
            continue
        if count == 0:
            flags.append(_flag("unused_distractor", f"Nobody chose option {key}.", key))
        elif count > least_right:
            text = (
                f"Wrong option {key} was chosen more often than the right answer "
                f"({count} against {least_right})."
            )
            flags.append(_flag("popular_distractor", text, key))
    return flags


def question_stats_compute(*, answers: Iterable[AnswerRow], learner_scores: dict[int, float],
                           options: list[dict] | None = None) -> QuestionStatsResult:  # fmt: skip
    """The numbers of one question version (give its ``options``) or of a whole question (all
    its versions' answers, no ``options``: option keys may mean other things in each version).

    - answers: how many answers there are (a learner who answered three times counts three);
    - percent_correct: 100 * fully right answers / answers (partial credit is not right),
      rounded to 2 places, None without answers;
    - option_counts: for each option, how many answers picked it (an answer to a multiple-answer
      question counts for each option it picked, so the counts may add up to more);
    - discrimination: see ``discrimination_compute``;
    - flags: see ``flags_compute``.
    """
    answers = list(answers)
    correct = sum(answer.correct for answer in answers)
    percent = round(100 * correct / len(answers), 2) if answers else None
    result = QuestionStatsResult(
        answers=len(answers),
        correct=correct,
        percent_correct=percent,
        discrimination=discrimination_compute(answers=answers, learner_scores=learner_scores),
    )
    if options is None:
        return result
    counts = {option["key"]: 0 for option in options}
    for answer in answers:
        for key in answer.chosen:
            if key in counts:
                counts[key] += 1
    flags = flags_compute(options=options, option_counts=counts, answers=len(answers),
                          percent_correct=percent)  # fmt: skip
    return QuestionStatsResult(**(asdict(result) | {"option_counts": counts, "flags": flags}))


def lesson_stats_compute(*, lesson: Lesson) -> LessonStatsResult:
    """Completion and test scores of a lesson.

    - learners_started: learners with any attempt at the lesson (practice, quiz or test, finished
      or not; reviews span the course and belong to no lesson);
    - learners_finished: those of them with at least one finished quiz or test attempt;
    - completion_percent: 100 * finished / started, rounded to 2 places, None when nobody started;
    - average_test_percent: the mean of the finished test attempts' scores, each as a percent of
      its maximum (every attempt counts, so a learner who took the test twice counts twice),
      rounded to 2 places, None without a finished test.
    """
    attempts = Attempt.objects.filter(lesson=lesson)
    started = attempts.values("learner_id").distinct().count()
    finished = (
        attempts.filter(mode__in=[Attempt.Mode.QUIZ, Attempt.Mode.TEST], finished_at__isnull=False)
        .values("learner_id")
        .distinct()
        .count()
    )
    tests = attempts.filter(mode=Attempt.Mode.TEST, finished_at__isnull=False, max_score__gt=0)
    percents = [100 * score / top for score, top in tests.values_list("score", "max_score")]
    return LessonStatsResult(
        learners_started=started,
        learners_finished=finished,
        completion_percent=round(100 * finished / started, 2) if started else None,
        tests_finished=len(percents),
        average_test_percent=round(sum(percents) / len(percents), 2) if percents else None,
    )


@transaction.atomic
def question_stats_refresh(*, now: datetime | None = None) -> RefreshReport:
    """Recompute the statistics of every lesson, question and question version (retired ones
    too: their answers still count) and store them, all in one transaction."""
    now = now or timezone.now()
    lesson_rows: list[LessonStats] = []
    question_rows: list[QuestionStats] = []
    version_rows: list[QuestionVersionStats] = []
    answer_count = 0
    versions_of: dict[int, list[QuestionVersion]] = defaultdict(list)
    for version in QuestionVersion.objects.only("id", "question_id", "options"):
        versions_of[version.question_id].append(version)
    questions_of: dict[int, list[Question]] = defaultdict(list)
    for question in Question.objects.only("id", "lesson_id"):
        questions_of[question.lesson_id].append(question)

    for lesson in Lesson.objects.all():
        answers = answer_rows(lesson=lesson)
        answer_count += len(answers)
        scores = learner_scores_compute(answers=answers)
        by_question: dict[int, list[AnswerRow]] = defaultdict(list)
        by_version: dict[int, list[AnswerRow]] = defaultdict(list)
        for answer in answers:
            by_question[answer.question_id].append(answer)
            by_version[answer.version_id].append(answer)
        for question in questions_of[lesson.pk]:
            result = question_stats_compute(answers=by_question[question.pk], learner_scores=scores)
            question_rows.append(
                QuestionStats(
                    question=question,
                    computed_at=now,
                    answers=result.answers,
                    correct=result.correct,
                    percent_correct=result.percent_correct,
                    discrimination=result.discrimination,
                )
            )
            for version in versions_of[question.pk]:
                result = question_stats_compute(
                    answers=by_version[version.pk], learner_scores=scores, options=version.options
                )
                version_rows.append(
                    QuestionVersionStats(version=version, computed_at=now, **asdict(result))
                )
        result = lesson_stats_compute(lesson=lesson)
        lesson_rows.append(LessonStats(lesson=lesson, computed_at=now, **asdict(result)))

    # Upserts, so that two refreshes running at once both succeed (the last one wins).
    for model, rows, unique in [
        (LessonStats, lesson_rows, "lesson"),
        (QuestionStats, question_rows, "question"),
        (QuestionVersionStats, version_rows, "version"),
    ]:
        fields = [f.name for f in model._meta.concrete_fields if f.name not in ("id", unique)]
        model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=[unique], update_fields=fields
        )
    return RefreshReport(
        lessons=len(lesson_rows),
        questions=len(question_rows),
        versions=len(version_rows),
        answers=answer_count,
        computed_at=now.isoformat(),
    )
