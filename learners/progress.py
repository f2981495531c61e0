"""What a learner has done beyond quizzes: the lab goals they met."""

from .models import LabGoalMet, Learner


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
