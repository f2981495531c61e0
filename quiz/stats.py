"""Statistics for instructors: how each question and lesson does, computed from stored answers.

``question_stats_compute`` and ``learner_scores_compute`` are pure: they take answer rows (read
by the ``answer_rows`` selector) and return numbers. ``lesson_stats_compute`` reads attempts.
``question_stats_refresh`` recomputes everything and stores it in one transaction; the Celery
task in quiz/tasks.py runs it, debounced, after finished attempts. Pages only read the result.

Every answer counts, whatever the attempt's mode (practice, quiz, test, review): an answer is
graded once and never changed, so each is one observation of how the question works.

The test statistics (``lesson_test_stats_compute``, ``question_test_stats_compute``) are
another view: only finished tests, each learner's first by default, with the figures and
definitions of Moodle's quiz statistics report (mod/quiz/report/statistics and
question/classes/statistics in Moodle's source). Each question is worth 1 mark.
"""

import math
import statistics
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
    LessonTestStats,
    Question,
    QuestionStats,
    QuestionTestStats,
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
class MarkRow:
    """One question's mark in a finished test: its credit, 0..1 (each question is worth 1)."""

    learner_id: int
    attempt_id: int
    position: int
    version_id: int
    credit: float


@dataclass(frozen=True)
class LessonTestStatsResult:
    tests: int
    questions: int | None
    mean: float | None
    median: float | None
    sd: float | None
    skewness: float | None
    kurtosis: float | None
    alpha: float | None
    alpha_note: str
    error_ratio: float | None
    standard_error: float | None


@dataclass(frozen=True)
class QuestionTestStatsResult:
    tests: int
    facility: float | None
    sd: float | None
    discrimination_index: float | None
    discriminative_efficiency: float | None


@dataclass(frozen=True)
class RefreshReport:
    lessons: int
    questions: int
    versions: int
    answers: int
    test_marks: int
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


# The test statistics -------------------------------------------------------------------------

# Fewer tests than this leave the coefficient of internal consistency (and what follows from
# it) undefined, as in Moodle, which computes it with the skewness, from three tests up.
ALPHA_MIN_TESTS = 3


def test_marks(*, lesson: Lesson) -> list[MarkRow]:
    """The marks of every finished test of ``lesson``, by attempt and position."""
    rows = Answer.objects.filter(
        item__attempt__lesson=lesson,
        item__attempt__mode=Attempt.Mode.TEST,
        item__attempt__finished_at__isnull=False,
    ).values_list(
        "item__attempt__learner_id",
        "item__attempt_id",
        "item__position",
        "item__version_id",
        "credit",
    )
    return [MarkRow(*row) for row in rows.order_by("item__attempt_id", "item__position")]


def first_tests_only(*, marks: Iterable[MarkRow]) -> list[MarkRow]:
    """The marks of each learner's first test: their lowest attempt id (ids grow as attempts
    are made, so the lowest is the earliest; tests are stored once finished or never)."""
    marks = list(marks)
    first: dict[int, int] = {}
    for mark in marks:
        first[mark.learner_id] = min(first.get(mark.learner_id, mark.attempt_id), mark.attempt_id)
    return [mark for mark in marks if first[mark.learner_id] == mark.attempt_id]


def _by_attempt(marks: Iterable[MarkRow]) -> dict[int, list[MarkRow]]:
    tests: dict[int, list[MarkRow]] = defaultdict(list)
    for mark in marks:
        tests[mark.attempt_id].append(mark)
    return tests


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


def lesson_test_stats_compute(*, marks: Iterable[MarkRow]) -> LessonTestStatsResult:
    """The statistics of a set of tests (Moodle's "Quiz information"), from their marks.

    A test's score is its marks' sum; scores are shown as a percent of the test's maximum (its
    number of questions). With s tests:

    - mean and median of the scores (the median of an even number: the mean of the middle two);
    - sd: the sample standard deviation, sqrt(sum (x - mean)^2 / (s - 1)); needs s >= 2;
    - skewness, from s >= 3 and kurtosis (excess), from s >= 4, as Moodle computes them:
      m_r = sum (x - mean)^r / s, k2 = s m2 / (s - 1), k3 = s^2 m3 / ((s - 1)(s - 2)),
      k4 = s^2 ((s + 1) m4 - 3 (s - 1) m2^2) / ((s - 1)(s - 2)(s - 3)); skewness = k3 / k2^1.5,
      kurtosis = k4 / k2^2. Undefined when every score is the same (k2 = 0);
    - alpha, Cronbach's alpha, which for right-or-wrong questions is KR-20 (Moodle's
      "coefficient of internal consistency", which it shows times 100): with k questions per
      test, alpha = k / (k - 1) * (1 - sum of the variances of the questions' marks / variance
      of the test marks). Each test draws its k questions from the bank, so the sum is the
      mean over the tests of the sum of their questions' variances, each variance taken over
      every test that asked the question: the plain KR-20 when all tests ask the same
      questions. (Moodle sums over its slots, the places of a quiz; a test here shuffles its
      questions, so a place holds no particular question.) Population variances on both sides
      of the ratio, as in KR-20's sum p q / variance; Moodle's sample variances give the same
      ratio. Needs ALPHA_MIN_TESTS tests, k >= 2, every test of the same length and scores
      that differ; ``alpha_note`` says which is missing;
    - error_ratio = 100 sqrt(1 - alpha), in percent: the share of the spread that is noise;
    - standard_error = sd sqrt(1 - alpha), in percent of the maximum: how far a learner's
      score may be from their "true" score.
    Percents are rounded to 2 places, the other figures to 4.
    """
    tests = _by_attempt(marks)
    s = len(tests)
    lengths = {len(test) for test in tests.values()}
    k = lengths.pop() if len(lengths) == 1 else None
    totals = [sum(mark.credit for mark in test) for test in tests.values()]
    percents = [100 * total / len(test) for total, test in zip(totals, tests.values(), strict=True)]
    mean = statistics.fmean(percents) if s else None
    median = statistics.median(percents) if s else None
    # statistics.variance sums exactly: equal scores give exactly 0, never a tiny divisor.
    variance = statistics.variance(percents) if s > 1 else None
    sd = math.sqrt(variance) if variance is not None else None
    skewness = kurtosis = None
    if s > 2 and variance:
        deviations = [x - mean for x in percents]
        m2, m3, m4 = (math.fsum(d**power for d in deviations) / s for power in (2, 3, 4))
        k2 = variance
        skewness = (s * s * m3 / ((s - 1) * (s - 2))) / k2**1.5
        if s > 3:
            k4 = s * s * ((s + 1) * m4 - 3 * (s - 1) * m2 * m2) / ((s - 1) * (s - 2) * (s - 3))
            kurtosis = k4 / (k2 * k2)
    alpha, note = None, ""
    if s < ALPHA_MIN_TESTS:
        note = f"needs at least {ALPHA_MIN_TESTS} tests"
    elif k is None:
        note = "the tests have different numbers of questions"
    elif k < 2:
        note = "needs tests of at least 2 questions"
    elif not variance:
        note = "every test has the same score (SD 0)"
    else:
        by_version: dict[int, list[float]] = defaultdict(list)
        for test in tests.values():
            for mark in test:
                by_version[mark.version_id].append(mark.credit)
        item_variance = (
            math.fsum(len(column) * statistics.pvariance(column) for column in by_version.values())
            / s
        )
        alpha = k / (k - 1) * (1 - item_variance / statistics.pvariance(totals))
    # alpha <= 1 in exact arithmetic; max() keeps a rounding error out of the square root.
    unreliable = math.sqrt(max(0.0, 1 - alpha)) if alpha is not None else None
    return LessonTestStatsResult(
        tests=s,
        questions=k,
        mean=_round(mean),
        median=_round(median),
        sd=_round(sd),
        skewness=_round(skewness, 4),
        kurtosis=_round(kurtosis, 4),
        alpha=_round(alpha, 4),
        alpha_note=note,
        error_ratio=_round(100 * unreliable if unreliable is not None else None),
        standard_error=_round(sd * unreliable if unreliable is not None else None),
    )


def question_test_stats_compute(*, marks: Iterable[MarkRow]) -> dict[int, QuestionTestStatsResult]:
    """Each question version's figures in a set of tests (Moodle's question statistics), keyed
    by version id. For the s tests that asked it, x is its mark (0..1) and r the rest of the
    test's marks (the test's sum minus x):

    - facility: the mean of x, in percent: how easy it was;
    - sd: the sample standard deviation of x, in percent of its mark; needs s >= 2;
    - discrimination_index: 100 * the correlation of x and r (Pearson, sample covariance
      over the standard deviations): do learners who do well on the rest of the test do well
      on this one? From -100 to 100; None when x or r does not vary;
    - discriminative_efficiency: 100 * cov(x, r) / the largest cov(x, r) could be with the
      same values (x and r both sorted), so a question that cannot discriminate more is not
      blamed for its facility; None when x or r does not vary.
    """
    tests = _by_attempt(marks)
    pairs: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for test in tests.values():
        total = sum(mark.credit for mark in test)
        for mark in test:
            pairs[mark.version_id].append((mark.credit, total - mark.credit))
    results = {}
    for version_id, values in pairs.items():
        x = [mark for mark, _rest in values]
        r = [rest for _mark, rest in values]
        sd = discrimination = efficiency = None
        if len(values) > 1:
            sd = 100 * math.sqrt(statistics.variance(x))
            if statistics.variance(x) and statistics.variance(r):  # exact: 0 when constant
                covariance = statistics.covariance(x, r)
                discrimination = (
                    100 * covariance / math.sqrt(statistics.variance(x) * statistics.variance(r))
                )
                # The largest covariance (Chebyshev's sum inequality): > 0 when both vary.
                largest = statistics.covariance(sorted(x), sorted(r))
                efficiency = 100 * covariance / largest if largest > 0 else None
        results[version_id] = QuestionTestStatsResult(
            tests=len(values),
            facility=_round(100 * statistics.fmean(x)),
            sd=_round(sd),
            discrimination_index=_round(discrimination),
            discriminative_efficiency=_round(efficiency),
        )
    return results


def random_guess_score(*, kind: str, options: list[dict]) -> float | None:
    """What a random guess scores on average, in percent (Moodle's rule): for a single-answer
    question, the mean credit of its options (right ones / options: 1 of 4 gives 25); for a
    multiple-answer one, None: Moodle does not estimate it either (it depends on how many
    options a guesser would pick)."""
    if kind != "single" or not options:
        return None
    return round(100 * sum(option["correct"] for option in options) / len(options), 2)


def lesson_test_stats_store(
    *, lesson: Lesson, marks: list[MarkRow], versions: dict[int, QuestionVersion], now: datetime
) -> None:
    """Compute and store the test statistics of ``lesson`` for each choice of tests (first of
    each learner, all), replacing what was stored. Upserts, like the other statistics."""
    for attempts in LessonTestStats.Attempts:
        chosen = (
            first_tests_only(marks=marks) if attempts == LessonTestStats.Attempts.FIRST else marks
        )
        result = lesson_test_stats_compute(marks=chosen)
        row, _ = LessonTestStats.objects.update_or_create(
            lesson=lesson, attempts=attempts, defaults=asdict(result) | {"computed_at": now}
        )
        rows = [
            QuestionTestStats(
                test_stats=row,
                version_id=version_id,
                random_guess=random_guess_score(
                    kind=versions[version_id].kind, options=versions[version_id].options
                ),
                **asdict(item),
            )
            for version_id, item in question_test_stats_compute(marks=chosen).items()
        ]
        fields = [f.name for f in QuestionTestStats._meta.concrete_fields
                  if f.name not in ("id", "test_stats", "version")]  # fmt: skip
        QuestionTestStats.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["test_stats", "version"],
            update_fields=fields,
        )  # fmt: skip
        # Versions no longer in these tests (a merged learner's first test may change).
        QuestionTestStats.objects.filter(test_stats=row).exclude(
            version__in=[item.version_id for item in rows]
        ).delete()


@transaction.atomic
def question_stats_refresh(*, now: datetime | None = None) -> RefreshReport:
    """Recompute the statistics of every lesson, question and question version (retired ones
    too: their answers still count) and store them, all in one transaction."""
    now = now or timezone.now()
    lesson_rows: list[LessonStats] = []
    question_rows: list[QuestionStats] = []
    version_rows: list[QuestionVersionStats] = []
    answer_count = mark_count = 0
    versions_of: dict[int, list[QuestionVersion]] = defaultdict(list)
    versions: dict[int, QuestionVersion] = {}
    for version in QuestionVersion.objects.only("id", "question_id", "options", "kind"):
        versions_of[version.question_id].append(version)
        versions[version.pk] = version
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
        marks = test_marks(lesson=lesson)
        mark_count += len(marks)
        lesson_test_stats_store(lesson=lesson, marks=marks, versions=versions, now=now)

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
        test_marks=mark_count,
        computed_at=now.isoformat(),
    )
