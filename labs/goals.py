"""Lab goals: which ones a learner's runs meet, and keeping that in their progress."""

from quiz.models import Learner

from .models import LabGoalMet
from .registry import LabKind


def lab_goals_met(*, lab: LabKind, runs: list) -> set[str]:
    return {name for name, goal in lab.goals.items() if goal.met(runs)}


def lab_goals_record(*, learner_key: str, kind: str, goals: set[str]) -> None:
    learner = Learner.objects.filter(key=learner_key).first()
    for goal in goals if learner else ():
        LabGoalMet.objects.get_or_create(learner=learner, lab=kind, goal=goal)


def lab_goals_recorded(*, learner: Learner | None, kind: str | None = None) -> set[tuple]:
    """(lab, goal) pairs the learner has met."""
    if learner is None:
        return set()
    goals = LabGoalMet.objects.filter(learner=learner)
    if kind is not None:
        goals = goals.filter(lab=kind)
    return set(goals.values_list("lab", "goal"))
