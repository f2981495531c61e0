"""What a learner has done beyond quizzes: the lab goals they met."""

from collections.abc import Iterable

from .models import LabGoalMet, Learner


def lab_goals_record(*, goals: Iterable[tuple[str, str, str]]) -> None:
    """Record each (learner key, lab, goal) of ``goals`` as met (one recorded already stays as
    it is): two queries, however many learners and goals."""
    goals = set(goals)
    if not goals:
        return
    keys = {key for key, _, _ in goals}
    learners = dict(Learner.objects.filter(key__in=keys).values_list("key", "id"))
    met = [LabGoalMet(learner_id=learners[key], lab=lab, goal=goal)
           for key, lab, goal in goals if key in learners]  # fmt: skip
    LabGoalMet.objects.bulk_create(met, ignore_conflicts=True)


def lab_goals_recorded(*, learner: Learner | None, kind: str | None = None) -> set[tuple]:
    """(lab, goal) pairs the learner has met."""
    if learner is None:
        return set()
    goals = LabGoalMet.objects.filter(learner=learner)
    if kind is not None:
        goals = goals.filter(lab=kind)
    return set(goals.values_list("lab", "goal"))
