"""Predict, then observe: a multiple-choice question a lab asks before a run.

The question is written in a lesson's questions file (``sets: [predict]``, ``lab:`` and
``observes:``, see content/README.md): each option stands for one of the lab's outcome codes
(``LabKind.outcomes``). The learner's choice is recorded twice: as a quiz answer (an attempt in
mode "predict", graded against the option the author marked right) and as a lab event
(``predicted``, with the outcome code of the chosen option). The lab's fold pairs that event
with the learner's next run (``PredictionPairing``) and the lab says how the run came out
(``LabKind.observed``).
"""

import dataclasses
import html
from dataclasses import dataclass

from django.db import transaction
from django.utils.html import strip_tags
from redis.exceptions import RedisError

from learners.models import Learner
from quiz.models import Question

from .events import event_publish
from .limits import learner_allows
from .services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited

PREDICTIONS_PER_MINUTE = 20


@dataclass(frozen=True)
class PredictionOutcome:
    """A recorded prediction and, once a run has answered it, what the run showed."""

    choice: str  # the outcome code the learner chose
    choice_label: str  # the option they chose, in words
    observed: str | None = None  # an outcome code, or None: not run yet
    observed_label: str = ""  # what the run showed, in words (set with observed)
    run: str = ""  # the id of the run that showed it (set with observed)

    @property
    def right(self) -> bool:
        return self.observed == self.choice


def _lab_kind(lab: str):
    # Looked up when called: the registry imports the lab modules, whose folds import this one.
    from .registry import LAB_KINDS

    return LAB_KINDS[lab]


class PredictionPairing:
    """Pairs a lab's ``predicted`` events with its runs, as the lab's fold goes through the
    events in order: the fold hands each ``predicted`` event to ``take`` and, after each event
    it applies to a run, the run to ``seen``.

    A prediction is answered by the first run begun after it whose outcome the lab can tell
    (``LabKind.observed``): a run that shows none (a canvas in the lifecycle lab, an email that
    failed) leaves it waiting for the next. A newer prediction replaces one still waiting.
    Events only ever add to the stream, so a prediction, once answered, stays answered.
    """

    def __init__(self) -> None:
        self.latest: PredictionOutcome | None = None  # the newest prediction, answered or not
        self._waiting: PredictionOutcome | None = None
        self._observed = None
        self._outcomes: dict[str, str] = {}
        self._seen: set[str] = set()  # every run so far
        self._begun_since: set[str] = set()  # the runs begun since the waiting prediction

    def take(self, event: dict) -> bool:
        """True for a ``predicted`` event, which is then the one waiting for a run."""
        if event.get("kind") != "predicted":
            return False
        lab = _lab_kind(event.get("lab", ""))
        choice = event.get("choice")
        if choice in lab.outcomes and lab.observed is not None:
            label = event.get("label") or lab.outcomes[choice]
            self._waiting = self.latest = PredictionOutcome(choice=choice, choice_label=label)
            self._observed, self._outcomes = lab.observed, lab.outcomes
            self._begun_since = set()
        return True

    def seen(self, run) -> None:
        """``run`` (anything with an ``id``) has just taken one more of its events."""
        if run.id not in self._seen:
            self._seen.add(run.id)
            self._begun_since.add(run.id)
        if self._waiting is None or run.id not in self._begun_since:
            return
        code = self._observed(run)
        if code in self._outcomes:
            self.latest = dataclasses.replace(
                self._waiting, observed=code, observed_label=self._outcomes[code], run=run.id
            )
            self._waiting = None


class Runs(list):
    """What a lab's fold returns: its runs as the page lists them, and the learner's newest
    prediction with what it became (``{% include "labs/_prediction.html#outcome" %}``)."""

    prediction: PredictionOutcome | None = None


def prediction_questions(*, lab: str) -> list[Question]:
    """The active 'predict' questions for the lab, in course and lesson order; none for a lab
    that cannot tell how a run came out."""
    kind = _lab_kind(lab)
    if not kind.outcomes or kind.observed is None:
        return []
    questions = (
        Question.objects.active()
        .filter(current_version__lab=lab, lesson__retired=False)
        .select_related("current_version", "lesson")
        .order_by("lesson__course__order", "lesson__order", "position")
    )
    return [question for question in questions if "predict" in question.sets]


def prediction_question(*, lab: str, lesson: str = "") -> Question | None:
    """The prediction the lab asks: the first of the lesson ``lesson``'s (the learner came to
    the lab from it), else the first in course and lesson order."""
    questions = prediction_questions(lab=lab)
    ours = (question for question in questions if question.lesson.slug == lesson)
    return next(ours, None) or next(iter(questions), None)


def prediction_record(*, learner: Learner, lab: str, version_id: str, choice: str) -> str:
    """Record the learner's prediction before a run; returns the label of their choice.

    ``version_id`` must be the current version of one of the lab's prediction questions (any
    lesson's: the lab asks the one of the lesson the learner came from).
    """
    # Looked up when called: quiz.services imports lessons.models, which imports the registry.
    from quiz.services import SubmissionError, prediction_answer

    questions = prediction_questions(lab=lab)
    if not questions:
        raise LabError("This lab asks no prediction now: reload the page.")
    question = next((q for q in questions if str(q.current_version_id) == version_id), None)
    if question is None:
        raise LabError("The question has changed since the page was loaded: reload the page.")
    version = question.current_version
    keys = [option["key"] for option in version.options]
    if choice not in keys:
        raise LabError("Choose one of the answers, then record your prediction.")
    index = keys.index(choice)
    # Without its full stop: the page says it inside a sentence ("You predicted …; the run …").
    label = html.unescape(strip_tags(version.options[index]["html"])).removesuffix(".")
    try:
        allowed = learner_allows(
            learner_id=learner.key, action=f"{lab}-predict", per_minute=PREDICTIONS_PER_MINUTE
        )
        if not allowed:
            raise RateLimited("That is a lot of predictions in a minute: run one first.")
        with transaction.atomic():  # the answer is kept only if the lab hears of it
            prediction_answer(learner=learner, question=question, chosen=choice)
            event = {"kind": "predicted", "lab": lab, "choice": version.observes[index],
                     "label": label}  # fmt: skip
            event_publish(learner_id=learner.key, lab=lab, event=event)
    except SubmissionError as error:
        raise LabError(error.message) from error
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    return label
