"""Predict, then observe: a multiple-choice question a lab asks before a run.

The question is written in a lesson's questions file (``sets: [predict]``, ``lab:`` and
``observes:``, see content/README.md): each option stands for one of the lab's outcome codes
(``LabKind.outcomes``). The learner's choice is recorded twice: as a quiz answer (an attempt in
mode "predict", graded against the option the author marked right) and as a lab event
(``predicted``, with the outcome code of the chosen option), which the lab's fold pairs with
the next run and compares with what that run showed.
"""

import html
from dataclasses import dataclass

from django.db import transaction
from django.utils.html import strip_tags
from redis.exceptions import RedisError

from quiz.models import Learner, Question

from .events import KEY_PREFIX, event_publish
from .limits import rate_limit_allows
from .services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited

PREDICTIONS_PER_MINUTE = 20


@dataclass(frozen=True)
class PredictionOutcome:
    """A recorded prediction and, once a run has answered it, what the run showed."""

    choice: str  # the outcome code the learner chose
    choice_label: str  # the option they chose, in words
    observed: str | None = None  # an outcome code, or None: not run yet
    observed_label: str = ""  # what the run showed, in words (set with observed)

    @property
    def right(self) -> bool:
        return self.observed == self.choice


def prediction_question(*, lab: str) -> Question | None:
    """The lab's prediction: its active 'predict' question, the first in lesson order."""
    questions = (
        Question.objects.active()
        .filter(current_version__lab=lab, lesson__retired=False)
        .select_related("current_version", "lesson")
        .order_by("lesson__course__order", "lesson__order", "position")
    )
    return next((question for question in questions if "predict" in question.sets), None)


def prediction_record(*, learner: Learner, lab: str, version_id: str, choice: str) -> str:
    """Record the learner's prediction before a run; returns the label of their choice."""
    # Looked up when called: quiz.services imports lessons.models, which imports the registry.
    from quiz.services import SubmissionError, prediction_answer

    question = prediction_question(lab=lab)
    if question is None:
        raise LabError("This lab asks no prediction now: reload the page.")
    version = question.current_version
    if version_id != str(version.pk):
        raise LabError("The question has changed since the page was loaded: reload the page.")
    keys = [option["key"] for option in version.options]
    if choice not in keys:
        raise LabError("Choose one of the answers, then record your prediction.")
    index = keys.index(choice)
    label = html.unescape(strip_tags(version.options[index]["html"]))
    try:
        allowed = rate_limit_allows(
            key=f"{KEY_PREFIX}{learner.key}:rate:{lab}-predict",
            limit=PREDICTIONS_PER_MINUTE,
            window_seconds=60,
        )
        if not allowed:
            raise RateLimited("That is a lot of predictions in a minute: run one first.")
        with transaction.atomic():  # the answer is kept only if the lab hears of it
            prediction_answer(learner=learner, question=question, chosen=choice)
            event = {"kind": "predicted", "lab": lab, "choice": version.observes[index],
                     "label": label}  # fmt: skip
            event_publish(learner_id=learner.key, event=event)
    except SubmissionError as error:
        raise LabError(error.message) from error
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    return label
