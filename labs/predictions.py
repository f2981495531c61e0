"""Predict, then observe: a multiple-choice question a lab asks before a run.

A lab defines its question as one ``Prediction`` (the question and its options, nothing else),
so that it can later move into a lesson file. The learner's choice is recorded as a lab event
(``predicted``); the lab's fold pairs it with the next run and says what that run showed.
"""

from dataclasses import dataclass

from redis.exceptions import RedisError

from .events import KEY_PREFIX, event_publish
from .limits import rate_limit_allows
from .services import BROKER_DOWN, BrokerUnavailable, LabError, RateLimited

PREDICTIONS_PER_MINUTE = 20


@dataclass(frozen=True)
class Prediction:
    question: str
    options: dict[str, str]  # choice -> what the learner reads


@dataclass(frozen=True)
class PredictionOutcome:
    """A recorded prediction and, once a run has answered it, what the run showed."""

    prediction: Prediction
    choice: str
    observed: str | None = None  # a key of prediction.options, or None: not run yet
    observed_label: str = ""  # what the run showed, in words (set with observed)

    @property
    def choice_label(self) -> str:
        return self.prediction.options.get(self.choice, self.choice)

    @property
    def right(self) -> bool:
        return self.observed == self.choice


def prediction_record(*, learner_id: str, lab: str, prediction: Prediction, choice: str) -> str:
    """Record the learner's prediction before a run; returns the label of their choice."""
    if choice not in prediction.options:
        raise LabError("Choose one of the answers, then record your prediction.")
    try:
        allowed = rate_limit_allows(
            key=f"{KEY_PREFIX}{learner_id}:rate:{lab}-predict",
            limit=PREDICTIONS_PER_MINUTE,
            window_seconds=60,
        )
        if not allowed:
            raise RateLimited("That is a lot of predictions in a minute: run one first.")
        event_publish(
            learner_id=learner_id, event={"kind": "predicted", "lab": lab, "choice": choice}
        )
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    return prediction.options[choice]
