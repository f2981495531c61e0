"""Attempts and grading. Views, the JSON API and tasks call these; grading happens only here.

Every answer is stored with the question version it answered. An answer is recorded once:
sending the same one again (a double click, a retry, the back button) returns the stored
result, and anything that does not fit the attempt is refused with a ``SubmissionError`` that
changes nothing.

Questions and their versions are written here too, from the drafts the content loader reads
(``questions_sync``); a version's texts are rendered when first shown (``quiz.rendering``).
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from fsrs import Card, Rating, Scheduler

from learners.models import Learner
from learnsite.rows import rows_insert
from lessons.models import Lesson
from lessons.rendered import content_version_current, rendered_cached

from .models import Answer, Attempt, AttemptQuestion, Question, QuestionVersion, ReviewItem
from .rendering import questions_rendered, versions_rendered
from .signals import attempt_finished
from .tasks import question_stats_schedule

# The test of a lesson: 10 questions in this mix, shuffled options, feedback only at the end.
# A lesson short of one difficulty fills the gap from the others, so a test is never short
# while the bank holds 10 questions.
TEST_MIX = {"easy": 3, "medium": 4, "hard": 3}
REVIEW_SIZE = 10
# Verdicts on a test score (percent): at least this much for each.
VERDICTS = [(80, "strong"), (50, "developing"), (0, "not yet")]
# A lesson's rendered text: not read where an attempt only needs the lesson's slug.
LESSON_TEXT_FIELDS = ("summary", "prerequisites", "intro_markdown", "intro_html", "sections")
# What a started attempt does not show until it is finished: left unread when one starts.
UNASKED_FIELDS = [
    f"current_version__{name}"
    for name in ("solution_html", "quick_check_html", "hints", "mistakes_html", "observes")
]
# Spaced repetition with FSRS: each answer that schedules a review is a rating of the learner's
# recall, and the card's memory model (stability, difficulty) sets the next due date, at a
# desired retention of 0.9. No minute-long learning steps (a review is a session a day or more
# apart), no fuzz (the same answers give the same dates).
REVIEW_SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)
# questions_sync writes the lessons' questions in groups of about this many: a few queries each.
SYNC_GROUP_QUESTIONS = 5000


class SubmissionError(Exception):
    """An answer that cannot be taken, with what to do instead. Nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Grade:
    correct: bool
    credit: float


def grade(*, version: QuestionVersion, chosen: list[str]) -> Grade:
    """Single answer: right or wrong. Multiple: all or nothing, unless the question allows
    partial credit, where each right choice earns a share and each wrong one takes one back."""
    right = {option["key"] for option in version.options if option["correct"]}
    picked = set(chosen)
    if picked == right:
        return Grade(correct=True, credit=1.0)
    if version.kind == "multiple" and version.partial_credit:
        share = (len(picked & right) - len(picked - right)) / len(right)
        return Grade(correct=False, credit=max(0.0, round(share, 4)))
    return Grade(correct=False, credit=0.0)


def question_bank(*, lesson: Lesson) -> list[Question]:
    """The lesson's questions with their current versions (rendered), in order: read once per
    content version in this process (content_load bumps the version when questions change)."""
    return rendered_cached(
        version=content_version_current(),
        key=f"quiz:bank:{lesson.pk}",
        build=lambda: questions_rendered(
            Question.objects.active()
            # A lab's prediction is asked on the lab's page, before a run, never in a test.
            .filter(lesson=lesson, current_version__lab="")
            .select_related("current_version")
            .defer(*UNASKED_FIELDS)
            .order_by("position")  # the lesson's own order, without joining lesson and course
        ),
    )


def _questions_for(*, lesson: Lesson, mode: str, learner: Learner) -> list[Question]:
    bank = question_bank(lesson=lesson)
    if mode in (Attempt.Mode.PRACTICE, Attempt.Mode.QUIZ):
        return [question for question in bank if mode in question.sets]
    drawn: list[Question] = []
    rng = random.SystemRandom()
    for difficulty, count in TEST_MIX.items():
        pool = [q for q in bank if q.current_version.difficulty == difficulty]
        drawn += rng.sample(pool, min(count, len(pool)))
    rest = [q for q in bank if q not in drawn]
    drawn += rng.sample(rest, min(sum(TEST_MIX.values()) - len(drawn), len(rest)))
    rng.shuffle(drawn)
    return drawn


def review_due(*, learner: Learner, now=None) -> list[Question]:
    """The learner's questions due for review, the most overdue first."""
    now = now or timezone.now()
    items = (
        ReviewItem.objects.filter(learner=learner, due_at__lte=now, question__retired=False)
        .exclude(question__current_version__isnull=True)
        .select_related("question__current_version")[:REVIEW_SIZE]
    )
    return questions_rendered(item.question for item in items)


@transaction.atomic
def attempt_start(*, learner: Learner, mode: str, lesson: Lesson | None = None) -> Attempt:
    if mode not in Attempt.Mode.values:
        modes = ", ".join(Attempt.Mode.values)
        raise SubmissionError(f"There is no '{str(mode)[:20]}' mode: choose one of {modes}.")
    if mode == Attempt.Mode.PREDICT:
        raise SubmissionError("A prediction is made on its lab's page, before a run.")
    if mode == Attempt.Mode.REVIEW:
        questions = review_due(learner=learner)
    elif lesson is None:
        raise SubmissionError("Say which lesson to practise.")
    else:
        questions = _questions_for(lesson=lesson, mode=mode, learner=learner)
    if not questions:
        raise SubmissionError(
            "Nothing is due for review: questions you miss come back here."
            if mode == Attempt.Mode.REVIEW
            else f"This lesson has no {mode} questions yet."
        )
    attempt = Attempt.objects.create(
        learner=learner,
        lesson=None if mode == Attempt.Mode.REVIEW else lesson,
        mode=mode,
        max_score=len(questions),
    )
    rng = random.SystemRandom()
    items = []
    for position, question in enumerate(questions, start=1):
        keys = [option["key"] for option in question.current_version.options]
        if mode == Attempt.Mode.TEST:
            rng.shuffle(keys)
        items.append(
            AttemptQuestion(
                attempt=attempt,
                position=position,
                version=question.current_version,
                option_order=keys,
            )
        )
    AttemptQuestion.objects.bulk_create(items)
    for item in items:
        AttemptQuestion.answer.related.set_cached_value(item, None)  # none yet: no query to know
    attempt.questions = items
    return attempt


def attempt_questions(attempt: Attempt) -> list[AttemptQuestion]:
    """The attempt's questions in order, with their versions and answers: as the start or
    submission of this request left them (no query), else read."""
    if not hasattr(attempt, "questions"):
        attempt.questions = attempt_questions_read(attempt)
    return attempt.questions


def position_parse(value: object) -> int | None:
    """A question's number as sent: a whole number, or its digits as text (from a form or a
    JSON key; "01" is 1). None for anything else (" 1", "+1", "1.0", "-1", "one")."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # More digits name no question, and int() refuses text of 4,300 digits or more.
        digits = value.lstrip("0") or "0"
        return int(digits) if len(digits) <= 9 else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _item(items: dict[int, AttemptQuestion], position: object) -> AttemptQuestion:
    number = position_parse(position)
    numbers = "1" if len(items) == 1 else f"1 to {len(items)}"  # positions start at 1
    if number is None:
        raise SubmissionError(f"Say which question, by its number ({numbers}).")
    if number not in items:
        raise SubmissionError(
            f"This attempt has no question {number}: its questions are {numbers}."
        )
    return items[number]


def _items(attempt: Attempt) -> dict[int, AttemptQuestion]:
    # With their answers: what is already answered is known without a query per question. Read
    # under the attempt's lock, so they are what is stored: kept for attempt_questions.
    attempt.questions = attempt_questions_read(attempt)
    return {item.position: item for item in attempt.questions}


def attempt_questions_read(attempt: Attempt) -> list[AttemptQuestion]:
    """The attempt's questions as stored, with their versions and answers, in order (by
    position, without the model's ordering, which joins the attempt to sort by it)."""
    items = list(attempt.items.select_related("version", "answer").order_by("position"))
    # Rendered when the attempt started, unless that start's transaction was rolled back.
    versions_rendered(versions=[item.version for item in items])
    return items


def _validated_choice(item: AttemptQuestion, chosen: object) -> list[str]:
    if isinstance(chosen, str):
        chosen = [chosen]
    if not isinstance(chosen, list | tuple) or not all(isinstance(c, str) for c in chosen):
        raise SubmissionError("Send the chosen options as a list of option letters.")
    picked = sorted(set(chosen))
    if not picked:
        raise SubmissionError(f"Choose an answer to question {item.position}.")
    unknown = [key for key in picked if key not in item.option_order]
    if unknown:
        raise SubmissionError(
            f"Question {item.position} has no option '{unknown[0][:20]}': "
            f"choose from {', '.join(item.option_order)}."
        )
    if item.version.kind == "single" and len(picked) > 1:
        raise SubmissionError(f"Question {item.position} takes one answer, not {len(picked)}.")
    return picked


def _answered(item: AttemptQuestion, picked: list[str]) -> Answer | None:
    """The stored answer to ``item`` when it is ``picked`` again; None when it has none yet."""
    answer = getattr(item, "answer", None)
    if answer is not None and answer.chosen != picked:
        raise SubmissionError(
            f"Question {item.position} is already answered; an answer cannot be changed."
        )
    return answer


def _record(attempt: Attempt, picks: list[tuple[AttemptQuestion, list[str]]]) -> list[Answer]:
    """Grade and store answers to questions of ``attempt`` that have none, then reschedule
    their reviews: the same few queries for one answer or fifty. The caller holds the
    attempt's row lock, so no other request answers these questions meanwhile."""
    answers = []
    for item, picked in picks:
        result = grade(version=item.version, chosen=picked)
        item.answer = Answer(item=item, chosen=picked, correct=result.correct, credit=result.credit)
        answers.append(item.answer)
    Answer.objects.bulk_create(answers)
    if attempt.mode != Attempt.Mode.PREDICT:  # a prediction needs its lab to make sense
        reviews_schedule(learner_id=attempt.learner_id, answers=[
            (item.version.question_id, item.answer.correct, item.hints_shown > 0)
            for item, _ in picks
        ])  # fmt: skip
    return answers


def _finished_check(attempt: Attempt) -> None:
    if attempt.finished_at is not None:
        raise SubmissionError("This attempt is finished: start a new one to answer again.")


@transaction.atomic
def attempt_answer(*, attempt: Attempt, position: object, chosen: object) -> Answer:
    """Practice and review: answer one question, and see its feedback at once."""
    attempt = Attempt.objects.select_for_update().get(pk=attempt.pk)
    if attempt.mode in (Attempt.Mode.QUIZ, Attempt.Mode.TEST):  # whatever the answer sent
        raise SubmissionError(
            "A quiz or test is submitted whole: its answers are sent together, at the end."
        )
    items = _items(attempt)
    item = _item(items, position)
    picked = _validated_choice(item, chosen)
    stored = getattr(item, "answer", None)
    if stored is not None and stored.chosen == picked:
        return stored  # a repeat of a stored answer, even after the attempt finished
    _finished_check(attempt)  # a prediction is finished as it is made
    _answered(item, picked)
    [answer] = _record(attempt, [(item, picked)])
    if all(hasattr(other, "answer") for other in items.values()):
        _finish(attempt)
    return answer


@transaction.atomic
def prediction_answer(*, learner: Learner, question: Question, chosen: object) -> Answer:
    """A lab's prediction, answered before a run: an attempt of its own, graded at once against
    the option the author expects."""
    version = question.current_version
    keys = [option["key"] for option in version.options]
    attempt = Attempt.objects.create(
        learner=learner, lesson=question.lesson, mode=Attempt.Mode.PREDICT, max_score=1
    )
    item = AttemptQuestion.objects.create(
        attempt=attempt, position=1, version=version, option_order=keys
    )
    attempt.questions = [item]
    [answer] = _record(attempt, [(item, _validated_choice(item, chosen))])
    _finish(attempt)
    return answer


@transaction.atomic
def attempt_submit(*, attempt: Attempt, answers: dict) -> Attempt:
    """Quiz and test: every answer at once, checked before any is stored, then graded.

    ``attempt`` names the attempt and its learner; it is read here, under its lock, so the
    caller need not have read it: one of another learner raises ``Attempt.DoesNotExist``."""
    # Its lesson's slug too, for the caller that shows the result (the lock is on the attempt
    # alone; the lesson's rendered text is not read).
    attempt = (
        Attempt.objects.select_for_update(of=("self",))
        .select_related("lesson")
        .defer(*(f"lesson__{name}" for name in LESSON_TEXT_FIELDS))
        .get(pk=attempt.pk, learner_id=attempt.learner_id)
    )
    if attempt.mode not in (Attempt.Mode.QUIZ, Attempt.Mode.TEST):
        raise SubmissionError("Practice and review answers are sent one at a time.")
    items = _items(attempt)
    if not isinstance(answers, dict):
        raise SubmissionError("Send the answers as {question number: [options]}.")
    picked: dict[int, list[str]] = {}
    for position, chosen in answers.items():
        item = _item(items, position)
        if item.position in picked:
            raise SubmissionError(f"Question {item.position} is answered twice in this submission.")
        picked[item.position] = _validated_choice(item, chosen)
    if attempt.finished_at is not None:
        stored = {item.position: item.answer.chosen for item in items.values()
                  if hasattr(item, "answer")}  # fmt: skip
        if stored == picked:
            return attempt  # the same submission again: nothing more to record
        _finished_check(attempt)
    missing = sorted(set(items) - set(picked))
    if missing:
        numbers = ", ".join(str(position) for position in missing)
        raise SubmissionError(f"Answer every question before you submit: {numbers} left.")
    picks = sorted(picked.items())
    _record(attempt, [(items[p], choice) for p, choice in picks if not _answered(items[p], choice)])
    _finish(attempt)
    return attempt


def _finish(attempt: Attempt) -> None:
    # Its questions were read under its lock, and the answers just recorded are on them.
    attempt.score = sum(item.answer.credit for item in attempt.questions if hasattr(item, "answer"))
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["score", "finished_at"])
    attempt_finished.send(sender=Attempt, attempt=attempt)
    # Statistics are recomputed by a worker, debounced, never in the request that grades.
    transaction.on_commit(question_stats_schedule, robust=True)


@transaction.atomic
def hint_reveal(*, attempt: Attempt, position: object) -> AttemptQuestion:
    """Show one more hint of a practice question (each one shown is noted)."""
    attempt = Attempt.objects.select_for_update().get(pk=attempt.pk)
    if attempt.mode not in (Attempt.Mode.PRACTICE, Attempt.Mode.REVIEW):
        raise SubmissionError("Hints are for practice; a quiz or test is taken without them.")
    item = _item(_items(attempt), position)
    if item.hints_shown < len(item.version.hints):
        item.hints_shown += 1
        item.save(update_fields=["hints_shown"])
    return item


def review_rating(*, correct: bool, hinted: bool = False) -> Rating:
    """An answer as an FSRS rating: a miss (partial credit included) is Again, right after a
    hint is Hard, right is Good. Never Easy: nothing we record (not the time taken, which is
    not stored) tells an easy recall from a good one."""
    if not correct:
        return Rating.Again
    return Rating.Hard if hinted else Rating.Good


def review_schedule(
    *, learner: Learner, question_id: int, correct: bool, hinted: bool = False, now=None
) -> None:
    """Rate the answer and reschedule the question's review. A miss is due now, so it comes
    back at once in review mode (FSRS would wait a day); a first right answer to a question
    never missed schedules nothing."""
    reviews_schedule(learner_id=learner.pk, answers=[(question_id, correct, hinted)], now=now)


def reviews_schedule(*, learner_id: int, answers: list[tuple[int, bool, bool]], now=None) -> None:
    """``review_schedule`` for many answers at once, each a (question id, correct, hinted), in
    the order given: one query reads the learner's review items, one writes them."""
    now = (now or timezone.now()).astimezone(UTC)
    cards = dict(
        ReviewItem.objects.filter(
            learner_id=learner_id, question_id__in={question_id for question_id, _, _ in answers}
        )
        .order_by()
        .values_list("question_id", "card")
    )
    scheduled: dict[int, ReviewItem] = {}
    for question_id, correct, hinted in answers:
        if question_id not in cards and correct:
            continue
        stored = cards.get(question_id)  # {} on a row from before FSRS: a new card
        card = Card.from_dict(stored) if stored else Card(card_id=question_id)
        card, _ = REVIEW_SCHEDULER.review_card(
            card, review_rating(correct=correct, hinted=hinted), review_datetime=now
        )
        due_at = card.due if correct else now
        cards[question_id] = card.to_dict()
        scheduled[question_id] = ReviewItem(
            learner_id=learner_id, question_id=question_id, due_at=due_at,
            interval_days=(due_at - now) / timedelta(days=1), card=cards[question_id],
        )  # fmt: skip
    # Inserted, or updated where the learner has one (also one written meanwhile by another
    # request, as update_or_create did).
    ReviewItem.objects.bulk_create(
        scheduled.values(), update_conflicts=True, unique_fields=["learner", "question"],
        update_fields=["due_at", "interval_days", "card"],
    )  # fmt: skip


def verdict(percent: int) -> str:
    return next(label for floor, label in VERDICTS if percent >= floor)


def breakdown(items: Iterable[AttemptQuestion]) -> list[dict]:
    """Score by difficulty, for a finished attempt's result, from its questions (with their
    versions and answers)."""
    rows: dict[str, dict] = {}
    for item in items:
        row = rows.setdefault(item.version.difficulty, {"asked": 0, "score": 0.0})
        row["asked"] += 1
        row["score"] += item.answer.credit if hasattr(item, "answer") else 0
    order = list(TEST_MIX)
    return [
        {"difficulty": d, **row, "percent": round(100 * row["score"] / row["asked"])}
        for d, row in sorted(rows.items(), key=lambda pair: order.index(pair[0]))
    ]


def learner_work_move(*, source: Learner, target: Learner) -> None:
    """Give ``target`` the attempts and reviews of ``source`` (an anonymous learner merged into
    an account's): where both review a question, the sooner review wins, so a recent miss is
    not lost."""
    Attempt.objects.filter(learner=source).update(learner=target)
    known = {item.question_id: item for item in ReviewItem.objects.filter(learner=target)}
    for item in ReviewItem.objects.filter(learner=source, question_id__in=known):
        kept = known[item.question_id]
        if item.due_at < kept.due_at:  # the whole card too: its memory model goes with its date
            kept.due_at, kept.interval_days, kept.card = item.due_at, item.interval_days, item.card
            kept.save(update_fields=["due_at", "interval_days", "card"])
    ReviewItem.objects.filter(learner=source).exclude(question_id__in=known).update(learner=target)


@dataclass(frozen=True)
class QuestionContent:
    """What one version of a question says, as the content loader read it: its texts as
    markdown, rendered when the version is first shown (``quiz.rendering``)."""

    difficulty: str
    kind: str
    partial_credit: bool
    options: list[dict]  # [{"key", "correct"}, ...] in file order
    # {"title", "prompt", "options": [{"text", "feedback"}], "solution", "quick_check",
    # "hints", "mistakes"}
    markdown: dict
    lab: str = ""
    observes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QuestionDraft:
    """A question as the content loader read it: where it goes (key, position, sets), the hash
    of what it says, and what it says (written only when no version has the hash yet)."""

    key: str
    position: int
    sets: list[str]
    content_hash: str
    content: QuestionContent


@dataclass(frozen=True)
class QuestionsSynced:
    versions_created: int = 0
    retired: int = 0


@transaction.atomic
def questions_sync(*, lessons: dict[Lesson, list[QuestionDraft]]) -> QuestionsSynced:
    """Make each lesson's questions its drafts, in their order, writing only what changed.

    A draft whose hash a version of its question already has points the question back at that
    version; any other gets a new version, so answers stay tied to what they answered. The
    lessons' questions not among the drafts are retired, never deleted (no drafts: all of
    them). A question whose draft is under another lesson moves there.
    """
    # A few queries for a group of lessons of up to SYNC_GROUP_QUESTIONS questions, whatever
    # their number: a first load of 1,000 lessons made five queries a lesson. (Groups keep each
    # query's parameters well under the databases' limits: 65,535 on PostgreSQL.)
    versions_created = retired = 0
    group: dict[Lesson, list[QuestionDraft]] = {}
    size = 0
    for index, (lesson, drafts) in enumerate(lessons.items(), start=1):
        group[lesson] = drafts
        size += len(drafts) + 1
        if size >= SYNC_GROUP_QUESTIONS or index == len(lessons):
            synced = _questions_group_sync(group)
            versions_created += synced.versions_created
            retired += synced.retired
            group, size = {}, 0
    return QuestionsSynced(versions_created=versions_created, retired=retired)


def _questions_group_sync(lessons: dict[Lesson, list[QuestionDraft]]) -> QuestionsSynced:
    drafts = [(lesson, draft) for lesson, questions in lessons.items() for draft in questions]
    keys = {draft.key for _, draft in drafts}
    lesson_ids = {lesson.pk for lesson in lessons}
    stored = {
        question.key: question
        for question in Question.objects.filter(
            Q(key__in=keys) | Q(lesson__in=lesson_ids, retired=False)
        )
    }
    stale = [q.pk for q in stored.values() if q.lesson_id in lesson_ids and not q.retired
             and q.key not in keys]  # fmt: skip
    old = [stored[key].pk for key in keys if key in stored]  # the questions that have versions
    new = [
        Question(key=draft.key, lesson=lesson, position=draft.position, sets=sorted(draft.sets))
        for lesson, draft in drafts
        if draft.key not in stored
    ]
    if new:
        rows_insert(model=Question, rows=[vars(question) for question in new])
        ids = dict(Question.objects.filter(key__in=[q.key for q in new]).values_list("key", "pk"))
        for question in new:
            question.pk = ids[question.key]
            stored[question.key] = question
    versions = {
        (question_id, content_hash): pk
        for question_id, content_hash, pk in QuestionVersion.objects.filter(
            question__in=old, content_hash__in={draft.content_hash for _, draft in drafts}
        ).values_list("question_id", "content_hash", "pk")
    } if old else {}  # fmt: skip
    unversioned = [d for _, d in drafts if (stored[d.key].pk, d.content_hash) not in versions]
    created = set()
    if unversioned:
        numbers = dict(
            QuestionVersion.objects.filter(question__in=old)
            .order_by()
            .values_list("question")
            .annotate(Count("pk"))
        ) if old else {}  # fmt: skip
        now = timezone.now()
        rows_insert(model=QuestionVersion, rows=[
            {"question_id": stored[draft.key].pk,
             "number": numbers.get(stored[draft.key].pk, 0) + 1,
             "content_hash": draft.content_hash, "rendered": False, "created_at": now,
             **vars(draft.content)}  # its fields (asdict would copy each value deeply)
            for draft in unversioned
        ])  # fmt: skip
        # Their ids: the versions of these questions with these hashes that were not there.
        made = {
            (question_id, content_hash): pk
            for question_id, content_hash, pk in QuestionVersion.objects.filter(
                question__in=[stored[draft.key].pk for draft in unversioned],
                content_hash__in={draft.content_hash for draft in unversioned},
            ).values_list("question_id", "content_hash", "pk")
            if (question_id, content_hash) not in versions
        }
        versions |= made
        created = set(made.values())
    # Only the fields that changed: bulk_update builds a CASE per field and row, most of a new
    # lesson's cost when all five were written. A question that only gets the version made
    # just now (every new question) gets it by one UPDATE for all: it is its newest.
    fields = ["lesson", "position", "retired", "sets", "current_version"]
    changed, changed_fields, newest = [], set(), []
    for lesson, draft in drafts:
        question = stored[draft.key]
        wanted = (lesson.pk, draft.position, False, sorted(draft.sets),
                  versions[(question.pk, draft.content_hash)])  # fmt: skip
        have = (question.lesson_id, question.position, question.retired, question.sets,
                question.current_version_id)  # fmt: skip
        if have == wanted:
            continue
        differ = {name for name, a, b in zip(fields, have, wanted, strict=True) if a != b}
        (question.lesson_id, question.position, question.retired, question.sets,
         question.current_version_id) = wanted  # fmt: skip
        if differ == {"current_version"} and question.current_version_id in created:
            newest.append(question.pk)
        else:
            changed_fields |= differ
            changed.append(question)
    if newest:
        last = QuestionVersion.objects.filter(question=OuterRef("pk")).order_by("-number")
        Question.objects.filter(pk__in=newest).update(
            current_version=Subquery(last.values("pk")[:1])
        )
    if changed:
        Question.objects.bulk_update(changed, [f for f in fields if f in changed_fields])
    if stale:
        Question.objects.filter(pk__in=stale).update(retired=True)
    return QuestionsSynced(versions_created=len(unversioned), retired=len(stale))
