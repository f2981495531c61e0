"""Predict, then observe: a multiple-choice question a lab asks before a run.

The question is written in a lesson's questions file (``sets: [predict]``, ``lab:`` and
``observes:``, see content/README.md): each option stands for one of the lab's outcome codes
(``LabKind.outcomes``). The learner's choice is recorded twice: as a quiz answer (an attempt in
mode "predict", graded against the option the author marked right) and as a lab event
(``predicted``, with the outcome code of the chosen option). The lab's fold pairs that event
with the learner's next run and says how the run came out (``labs.fold.LabFold``).
"""

import html

from django.db import transaction
from django.utils.html import strip_tags
from redis.exceptions import RedisError

from learners.models import Learner
from quiz.models import Question
from quiz.rendering import questions_rendered
from quiz.services import SubmissionError, prediction_answer

from .events import event_publish
from .limits import learner_allows
from .registry import LAB_KINDS
from .services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited

PREDICTIONS_PER_MINUTE = 20


def prediction_questions(*, lab: str) -> list[Question]:
    """The active 'predict' questions for the lab, in course and lesson order; none for a lab
    that cannot tell how a run came out."""
    if not LAB_KINDS[lab].outcomes:
        return []
    questions = (
        Question.objects.active()
        .filter(current_version__lab=lab, lesson__retired=False)
        .select_related("current_version", "lesson")
        .order_by("lesson__course__order", "lesson__order", "position")
    )
    return questions_rendered(question for question in questions if "predict" in question.sets)


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
